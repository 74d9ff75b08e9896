"""Fill URL-only curated/CSV items from the page: title, description, site name, image.

Pages come through the guarded client with a small byte cap (the metadata is in the
<head>); any failure is a warning and the item keeps its URL as its title.
"""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from urllib.parse import urljoin

from digest.errors import DigestError
from digest.http import fetch
from digest.sanitize import plain_text
from digest.sources.base import SourceContext
from digest.sources.drafts import Draft

PAGE_BYTES = 1_000_000
PARALLEL_PAGES = 8


class PageMeta(HTMLParser):
    """Collects <title> and <meta property/name=... content=...> until </head>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            values = {k.lower(): v or "" for k, v in attrs}
            key = (values.get("property") or values.get("name") or "").strip().lower()
            if key and key not in self.meta and values.get("content"):
                self.meta[key] = values["content"].strip()
        elif tag == "body":
            self.done = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and not self.done:
            self.title += data


def page_meta(html: str) -> PageMeta:
    parser = PageMeta()
    parser.feed(html)
    parser.close()
    return parser


async def enrich_drafts(drafts: list[Draft], ctx: SourceContext) -> None:
    """Enrich, in parallel, every draft that has a URL but lacks a title or an excerpt."""
    wanted = [d for d in drafts if d.needs_enrichment]
    limit = asyncio.Semaphore(PARALLEL_PAGES)

    async def one(draft: Draft) -> None:
        async with limit:
            await enrich_draft(draft, ctx)

    await asyncio.gather(*(one(d) for d in wanted))


async def enrich_draft(draft: Draft, ctx: SourceContext) -> None:
    cap = min(PAGE_BYTES, ctx.settings.network.max_bytes)
    try:
        result = await fetch(ctx.client, draft.url, max_bytes=cap)
    except DigestError as exc:
        ctx.warn(f"{draft.where}: could not fetch {draft.url} to fill in the title: {exc}")
        return
    if not result.ok:
        ctx.warn(f"{draft.where}: HTTP {result.status} from {draft.url}; title not filled in")
        return
    if result.content_type and "html" not in result.content_type:
        ctx.warn(f"{draft.where}: {draft.url} is {result.content_type}, not a web page")
        return
    meta = page_meta(result.text())
    title = meta.meta.get("og:title") or meta.meta.get("twitter:title") or meta.title
    description = meta.meta.get("og:description") or meta.meta.get("description") or ""
    if not draft.title:
        draft.title = plain_text(title)
    if not draft.excerpt:
        draft.excerpt = plain_text(description)
    draft.site_name = plain_text(meta.meta.get("og:site_name", "")) or None
    image = meta.meta.get("og:image") or meta.meta.get("twitter:image")
    if image and not draft.image:
        absolute = urljoin(result.url, image)
        if absolute.startswith(("http://", "https://")):
            draft.image = absolute
            draft.image_alt = draft.image_alt or meta.meta.get("og:image:alt", "")
    if not draft.title:
        ctx.warn(f"{draft.where}: {draft.url} has no title; the URL is used instead")
