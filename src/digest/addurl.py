"""A story added by pasting its URL: filled in from the page's Open Graph / meta tags.

The page comes through the guarded client (digest.http: timeouts, byte cap,
private addresses refused) and is read by the same parser the curated sources use
(digest.sources.enrich.page_meta). An unreachable page is not an error: the editor gets
a clear message and an item holding just the URL, to fill in by hand.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from digest.config import Settings
from digest.errors import DigestError
from digest.http import fetch, make_client
from digest.overlay import AddedItem
from digest.sanitize import plain_text
from digest.sources.enrich import PAGE_BYTES, page_meta


@dataclass(frozen=True)
class Filled:
    story: AddedItem
    problem: str | None  # why the page could not fill it in (the editor fills it by hand)


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DigestError(f"'{url}' is not a web address (it must start with http:// or https://)")
    return url


def story_from_url(
    settings: Settings, url: str, section: str, *, now: datetime, transport: Any = None
) -> Filled:
    url = check_url(url)
    story = AddedItem(key="", section=section, url=url, title="", added_at=now.isoformat())
    try:
        problem = asyncio.run(_fill(settings, story, transport))
    except DigestError as exc:
        problem = str(exc)
    if problem:
        story.title = url
        problem = f"could not fill in {url} from the page ({problem}); edit its title and excerpt"
    return Filled(story, problem)


async def _fill(settings: Settings, story: AddedItem, transport: Any) -> str | None:
    cap = min(PAGE_BYTES, settings.network.max_bytes)
    async with make_client(settings.network, transport) as client:
        result = await fetch(client, story.url, max_bytes=cap)
    if not result.ok:
        return f"HTTP {result.status}"
    if result.content_type and "html" not in result.content_type:
        return f"it is {result.content_type}, not a web page"
    meta = page_meta(result.text())
    values = meta.meta
    story.title = plain_text(values.get("og:title") or values.get("twitter:title") or meta.title)
    description = plain_text(values.get("og:description") or values.get("description") or "")
    story.summary = f"<p>{_escape(description)}</p>" if description else ""
    story.site_name = plain_text(values.get("og:site_name", ""))
    image = values.get("og:image") or values.get("twitter:image")
    if image:
        absolute = urljoin(result.url, image)
        if absolute.startswith(("http://", "https://")):
            story.image, story.image_alt = absolute, values.get("og:image:alt", "")
    if not story.title:
        story.title = story.url
        return "the page has no title"
    return None


def _escape(text: str) -> str:
    from html import escape

    return escape(text, quote=False)
