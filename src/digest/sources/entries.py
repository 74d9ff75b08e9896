"""Pieces every reader shares: origins, tags, dates and reading a source's bytes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from digest.config import OriginConfig
from digest.errors import SourceError
from digest.http import FetchError, FetchResult, fetch
from digest.models import Origin
from digest.sources.base import SourceContext

# Date-only values (a CSV cell, curated `date: 2026-11-18`) are placed at noon UTC, which
# is the same calendar day everywhere from Hawaii to New Zealand.
NOON = time(12, 0, tzinfo=UTC)
_DAY_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%B %d, %Y", "%b %d, %Y", "%d %B %Y",
                "%d %b %Y", "%B %d %Y", "%b %d %Y")  # fmt: skip


def origin_of(config: OriginConfig) -> Origin:
    return Origin(name=config.name, kind=config.kind, state=config.state, url=config.url)


def merge_tags(*groups: Iterable[str]) -> tuple[str, ...]:
    """Tags in first-seen order, trimmed, without duplicates (case-insensitive)."""
    seen: dict[str, str] = {}
    for group in groups:
        for tag in group:
            clean = str(tag).strip()
            if clean and clean.lower() not in seen:
                seen[clean.lower()] = clean
    return tuple(seen.values())


def split_tags(value: object) -> list[str]:
    """Tags from a list or a comma/semicolon separated string."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in re.split(r"[,;]", str(value)) if part.strip()]


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_date(value: object) -> datetime:
    """An aware UTC datetime from a datetime, date or common date string; ValueError if not."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return datetime.combine(value, NOON)
    text = str(value).strip()
    if not text:
        raise ValueError("empty date")
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    for fmt in _DAY_FORMATS:
        try:
            return datetime.combine(datetime.strptime(text, fmt).date(), NOON)
        except ValueError:
            continue
    try:
        return as_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"'{text}' is not a date (use YYYY-MM-DD)") from None


async def read_bytes(
    ctx: SourceContext, url: str | None, path: Path | None, *, conditional: bool = True
) -> FetchResult | None:
    """The source's bytes from a local path or over HTTP; None when the server says 304.

    HTTP errors, refusals, oversize bodies and unreadable files raise SourceError.
    On success over HTTP the ETag/Last-Modified validators are kept in ``ctx.state``.
    """
    if path is not None:
        return _read_file(ctx, path)
    assert url is not None
    network = ctx.settings.network
    etag = ctx.state.get("etag") if conditional else None
    modified = ctx.state.get("last_modified") if conditional else None
    try:
        result = await fetch(
            ctx.client, url, max_bytes=network.max_bytes, etag=etag, last_modified=modified
        )
    except FetchError as exc:
        raise SourceError(ctx.source_id, str(exc)) from None
    if result.not_modified:
        ctx.state["status"] = "not_modified"
        return None
    if not result.ok:
        raise SourceError(ctx.source_id, f"HTTP {result.status} from {result.url}")
    if result.truncated:
        raise SourceError(
            ctx.source_id,
            f"response from {result.url} is larger than network.max_bytes "
            f"({network.max_bytes} bytes); it was cut off and not read",
        )
    if conditional:
        ctx.state["etag"] = result.headers.get("etag")
        ctx.state["last_modified"] = result.headers.get("last-modified")
    ctx.state["bytes"] = len(result.content)
    return result


def _read_file(ctx: SourceContext, path: Path) -> FetchResult:
    resolved = ctx.settings.resolve_path(path)
    limit = ctx.settings.network.max_bytes
    try:
        with resolved.open("rb") as handle:
            content = handle.read(limit + 1)
    except OSError as exc:
        raise SourceError(ctx.source_id, f"cannot read {resolved}: {exc.strerror}") from None
    if len(content) > limit:
        raise SourceError(
            ctx.source_id, f"{resolved} is larger than network.max_bytes ({limit} bytes)"
        )
    return FetchResult(200, resolved.as_uri(), httpx.Headers(), content)
