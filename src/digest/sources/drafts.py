"""Staff-written items (curated files, CSV rows) before they become ``Item``s.

Both readers turn a mapping of fields into a ``Draft``, reporting each bad field with
where it came from; enrichment may fill the gaps; ``to_item`` applies the per-item
outlet/state/kind over the source's origin.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, get_args

from digest.config import CsvSource, CuratedSource, OriginKind
from digest.excerpts import excerpt_paragraphs
from digest.models import Item, Media, Origin
from digest.sanitize import plain_text, sanitize_html
from digest.sources.base import SourceContext
from digest.sources.entries import merge_tags, origin_of, parse_date, split_tags

FIELDS = frozenset(
    {"title", "url", "excerpt", "outlet", "date", "tags", "state", "kind", "quote",
     "quote_by", "image", "image_alt", "body"}
)  # fmt: skip
KINDS: tuple[str, ...] = get_args(OriginKind)
EXCERPT_CHARS = 400  # as a feed's default excerpt_chars


class DraftError(ValueError):
    """The draft cannot become an item (the message names the field)."""


@dataclass
class Draft:
    where: str  # "news/clip.yaml" or "line 7": used in warnings
    published_at: datetime
    url: str = ""
    title: str = ""
    excerpt: str = ""
    outlet: str | None = None
    state: str | None = None
    kind: str | None = None
    tags: list[str] = field(default_factory=list)
    quote: str | None = None
    quote_by: str | None = None
    image: str | None = None
    image_alt: str = ""
    body_html: str = ""
    site_name: str | None = None  # from enrichment

    @property
    def needs_enrichment(self) -> bool:
        return bool(self.url) and not (self.title and self.excerpt)


def draft_from(
    fields: dict[str, Any], where: str, default_date: datetime, ctx: SourceContext
) -> Draft:
    """Build a draft; unknown or bad optional fields are warnings, a missing url and
    title or an unreadable date raise DraftError."""
    values = {str(k).strip().lower(): v for k, v in fields.items() if k is not None}
    for unknown in sorted(set(values) - FIELDS):
        ctx.warn(f"{where}: unknown field '{unknown}' ignored (known: {', '.join(sorted(FIELDS))})")
    text = {
        k: _text(v, multiline=k == "body")
        for k, v in values.items()
        if k in FIELDS and k not in ("tags", "date")
    }
    if not text.get("url") and not text.get("title"):
        raise DraftError(f"{where}: needs a 'url' or a 'title'")
    draft = Draft(where=where, published_at=_date(values.get("date"), where, default_date))
    draft.url = _checked_url(text.get("url", ""), "url", where, ctx) or ""
    draft.title = text.get("title", "")
    draft.excerpt = text.get("excerpt", "")
    draft.outlet = text.get("outlet") or None
    draft.state = text.get("state") or None
    draft.kind = _kind(text.get("kind"), where, ctx)
    draft.tags = split_tags(values.get("tags"))
    draft.quote = text.get("quote") or None
    draft.quote_by = text.get("quote_by") or None
    draft.image = _checked_url(text.get("image", ""), "image", where, ctx)
    draft.image_alt = text.get("image_alt", "")
    if text.get("body"):
        draft.body_html = sanitize_html(text["body"])
        if not draft.excerpt:  # a Markdown clip: its first paragraph(s) are the excerpt
            draft.excerpt = " ".join(excerpt_paragraphs(draft.body_html, EXCERPT_CHARS))
    return draft


def _text(value: Any, *, multiline: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    return text if multiline else " ".join(text.split())


def _date(value: Any, where: str, default: datetime) -> datetime:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        return parse_date(value)
    except ValueError as exc:
        raise DraftError(f"{where}: field 'date': {exc}") from None


def _checked_url(value: str, name: str, where: str, ctx: SourceContext) -> str | None:
    if not value:
        return None
    if not value.lower().startswith(("http://", "https://")):
        ctx.warn(f"{where}: field '{name}': '{value}' is not an http(s) URL; ignored")
        return None
    return value


def _kind(value: str | None, where: str, ctx: SourceContext) -> str | None:
    if not value:
        return None
    if value not in KINDS:
        ctx.warn(f"{where}: field 'kind': '{value}' is not one of {', '.join(KINDS)}; ignored")
        return None
    return value


def to_item(draft: Draft, config: CuratedSource | CsvSource, ctx: SourceContext) -> Item:
    base = origin_of(config.origin)
    outlet = draft.outlet
    kind = draft.kind or ("news_outlet" if outlet else base.kind)
    if outlet is None and draft.site_name and kind == "news_outlet":
        outlet = draft.site_name
    origin = Origin(
        name=outlet or base.name,
        kind=kind,
        state=draft.state or base.state,
        url=None if outlet else base.url,
    )
    title = plain_text(draft.title) or draft.url
    summary = f"<p>{html.escape(draft.excerpt)}</p>" if draft.excerpt else ""
    extra: dict[str, Any] = {}
    if draft.quote:
        extra["quote"] = draft.quote
    if draft.quote_by:
        extra["quote_by"] = draft.quote_by
    if draft.site_name:
        extra["site_name"] = draft.site_name
    return Item(
        source_id=ctx.source_id,
        guid=draft.url or f"{draft.where}:{title}",
        url=draft.url,
        title=title,
        origin=origin,
        published_at=draft.published_at,
        summary=summary,
        body=draft.body_html,
        tags=merge_tags(draft.tags, config.tags),
        media=(Media(draft.image, draft.image_alt),) if draft.image else (),
        extra=extra,
    )
