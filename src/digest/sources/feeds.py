"""``type: feed``: RSS 2.0 and Atom (through feedparser, always from bytes) and JSON Feed.

Fetching happens in the collect's event loop; parsing is the pure ``parse_feed(FeedJob)``,
run in a worker process when the collect has a pool (see digest.sources.parse_pool).
"""

from __future__ import annotations

import asyncio
import calendar
import functools
import hashlib
import html
import json
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FunctionType
from typing import Any

import feedparser
import feedparser.mixin
import feedparser.urls

from digest.config import FeedSource
from digest.errors import SourceError
from digest.models import Item, Media
from digest.sanitize import excerpt, plain_text, sanitize_html
from digest.sources.base import SourceContext, register
from digest.sources.entries import merge_tags, origin_of, parse_date, read_bytes

SUMMARY_CHARS = 400
JSON_TYPES = ("application/feed+json", "application/json")


def _memoize_feedparser_urljoin() -> None:
    """feedparser re-joins the document's base URL with itself on every element start
    (make_safe_absolute_uri -> _urljoin -> urllib.parse.urljoin): about a quarter of its
    parsing time on a typical RSS feed. The join is a pure function of two strings, so a
    bounded cache returns exactly the same results. Applied only if feedparser still has
    the function under that name (a private one; feedparser 6.0.x)."""
    original = getattr(feedparser.urls, "_urljoin", None)
    # A plain function: not renamed away in a newer feedparser, and not yet cached.
    shared = getattr(feedparser.mixin, "_urljoin", None) is original
    if shared and isinstance(original, FunctionType):
        cached = functools.lru_cache(maxsize=4096)(original)
        feedparser.urls._urljoin = cached
        feedparser.mixin._urljoin = cached


_memoize_feedparser_urljoin()


@register("feed")
class FeedReader:
    async def read(self, config: FeedSource, ctx: SourceContext) -> list[Item]:
        result = await read_bytes(ctx, config.url, config.path)
        if result is None:  # 304: nothing changed since the last collect
            return []
        job = FeedJob(
            source_id=ctx.source_id,
            config=config,
            url=result.url,
            content=result.content,
            content_type=str(result.headers.get("content-type", "")),
            now=ctx.now,
            since=ctx.since,
        )
        items, warnings = await _run_parse(job, ctx.cpu_pool)
        ctx.warnings.extend(warnings)
        return items


async def _run_parse(job: FeedJob, pool: Executor | None) -> tuple[list[Item], list[str]]:
    """Parsing is CPU work: in the collect's worker processes when it has them (all
    cores), else in a thread (keeps other sources' downloads moving)."""
    if pool is not None:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, parse_feed, job)
        except BrokenProcessPool:
            pass  # a worker died (or could not start): parse here, as without a pool
    return await asyncio.to_thread(parse_feed, job)


@dataclass
class FeedJob:
    """One fetched feed to parse. Plain data, so it can be sent to a worker process."""

    source_id: str
    config: FeedSource
    url: str
    content: bytes
    content_type: str  # the Content-Type header as sent; "" when there is none (files)
    now: datetime
    since: datetime  # items published before this are left out
    warnings: list[str] = field(default_factory=list)

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def warn(self, message: str) -> None:
        self.warnings.append(f"source '{self.source_id}': {message}")

    def fail(self, message: str) -> SourceError:
        return SourceError(self.source_id, message)


def parse_feed(job: FeedJob) -> tuple[list[Item], list[str]]:
    """The feed's items published since ``job.since``, and warnings about it.

    Pure (no I/O, no shared state), so it runs the same in a worker process; raises
    SourceError when the bytes are not a readable feed, or parsing them broke.
    """
    try:
        items = parse_json_feed(job) if _looks_like_json(job) else parse_xml_feed(job)
    except SourceError:
        raise
    except Exception as exc:
        # As a SourceError it names the feed, and it always pickles back from a worker
        # (an exception whose constructor wants other arguments would break the pool).
        raise job.fail(f"could not parse {job.url}: {type(exc).__name__}: {exc}") from None
    return [item for item in items if item.published_at >= job.since], job.warnings


def _looks_like_json(job: FeedJob) -> bool:
    if job.media_type in JSON_TYPES:
        return True
    return job.content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _entry_time(entry: Any, job: FeedJob) -> datetime:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    return job.now


def parse_xml_feed(job: FeedJob) -> list[Item]:
    # Local files have no Content-Type; without one feedparser calls any feed ill-formed.
    headers = {
        "content-location": job.url,
        "content-type": job.content_type or "application/xml",
    }
    if b"<!ENTITY" in job.content[:65536]:
        # feedparser only turns off external entities; internal ones can explode.
        raise job.fail(f"refused {job.url}: the feed declares XML entities (<!ENTITY>)")
    # Bytes, never str: feedparser.parse(str) may treat the string as a path or URL.
    # feedparser's own sanitizer and URI resolver are off because every HTML field goes
    # through digest.sanitize (nh3, the one allowlist) with the entry link as base URL;
    # running both doubled the parsing time.
    parsed = feedparser.parse(
        job.content,
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    items = [item for entry in parsed.entries if (item := _xml_item(entry, job))]
    problem = parsed.get("bozo_exception") if parsed.bozo else None
    if not items and (problem or not parsed.version):
        reason = problem or "no RSS or Atom feed found"
        raise job.fail(f"not a readable feed ({job.url}): {reason}")
    if problem:
        job.warn(f"{job.url} is not well-formed ({problem}); read what could be parsed")
    return items


def _xml_item(entry: Any, job: FeedJob) -> Item | None:
    link = entry.get("link") or ""
    guid = entry.get("id") or link
    title = _title(entry)
    if not guid and not title:
        return None
    body = _xml_body(entry, link)
    summary = sanitize_html(_html_of(entry.get("summary_detail")), base_url=link or None)
    if not summary and body:
        summary = f"<p>{html.escape(excerpt(body, SUMMARY_CHARS))}</p>"
    return Item(
        source_id=job.source_id,
        guid=guid or _hash_guid(title),
        url=link,
        title=title or link,
        origin=origin_of(job.config.origin),
        published_at=_entry_time(entry, job),
        summary=summary,
        body=body,
        author=entry.get("author") or None,
        tags=merge_tags((t.get("term") or "" for t in entry.get("tags", [])), job.config.tags),
        media=_xml_media(entry),
    )


def _title(entry: Any) -> str:
    detail = entry.get("title_detail") or {}
    if detail.get("type") == "text/plain":
        return " ".join(str(entry.get("title", "")).split())
    return plain_text(str(entry.get("title", "")))


def _html_of(detail: Any) -> str:
    """Text content as HTML: feedparser leaves text/plain unescaped and unsanitized."""
    if not detail or not detail.get("value"):
        return ""
    value = str(detail["value"])
    if detail.get("type") == "text/plain":
        return "".join(f"<p>{html.escape(p.strip())}</p>" for p in value.split("\n\n"))
    return value


def _xml_body(entry: Any, link: str) -> str:
    # feedparser files media:description under content as text/plain; prefer real HTML.
    contents = entry.get("content") or []
    rich = [c for c in contents if c.get("type") in ("text/html", "application/xhtml+xml")]
    chosen = rich[0] if rich else None
    return sanitize_html(_html_of(chosen), base_url=link or None) if chosen else ""


def _xml_media(entry: Any) -> tuple[Media, ...]:
    urls: list[Media] = []
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            urls.append(Media(str(link.get("href", ""))))
    for key in ("media_content", "media_thumbnail"):
        for media in entry.get(key, []):
            if media.get("medium", "image") == "image" and media.get("url"):
                urls.append(Media(str(media["url"])))
    return _unique_media(urls)


def _unique_media(media: list[Media]) -> tuple[Media, ...]:
    seen: dict[str, Media] = {}
    for m in media:
        if m.url.startswith(("http://", "https://")) and m.url not in seen:
            seen[m.url] = m
    return tuple(seen.values())


def _hash_guid(text: str) -> str:
    return "sha1:" + hashlib.sha1(text.encode()).hexdigest()


def parse_json_feed(job: FeedJob) -> list[Item]:
    """JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1)."""
    url = job.url
    try:
        data = json.loads(job.content.decode("utf-8-sig", errors="replace"))
    except json.JSONDecodeError as exc:
        raise job.fail(f"not valid JSON ({url}): {exc}") from None
    version = data.get("version", "") if isinstance(data, dict) else ""
    if not str(version).startswith("https://jsonfeed.org/version/"):
        raise job.fail(f"not a JSON Feed ({url}): no jsonfeed.org version")
    entries = data.get("items")
    if not isinstance(entries, list):
        raise job.fail(f"JSON Feed without an 'items' list ({url})")
    feed_authors = _json_authors(data)
    items = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            job.warn(f"JSON Feed item {index + 1} is not an object; skipped")
            continue
        try:
            items.append(_json_item(entry, feed_authors, job))
        except ValueError as exc:
            job.warn(f"JSON Feed item {index + 1}: {exc}; skipped")
    return items


def _json_item(entry: dict[str, Any], feed_authors: str | None, job: FeedJob) -> Item:
    link = str(entry.get("url") or entry.get("external_url") or "")
    guid = str(entry.get("id") or link)
    if not guid:
        raise ValueError("no id and no url")
    body = sanitize_html(str(entry.get("content_html") or ""), base_url=link or None)
    if not body and entry.get("content_text"):
        body = _html_of({"type": "text/plain", "value": entry["content_text"]})
    summary = f"<p>{html.escape(str(entry['summary']))}</p>" if entry.get("summary") else ""
    if not summary and body:
        summary = f"<p>{html.escape(excerpt(body, SUMMARY_CHARS))}</p>"
    title = plain_text(str(entry.get("title") or "")) or excerpt(body, 80) or link
    return Item(
        source_id=job.source_id,
        guid=guid,
        url=link,
        title=title,
        origin=origin_of(job.config.origin),
        published_at=_json_time(entry, job),
        summary=summary,
        body=body,
        author=_json_authors(entry) or feed_authors,
        tags=merge_tags([str(t) for t in entry.get("tags") or []], job.config.tags),
        media=_json_media(entry),
    )


def _json_time(entry: dict[str, Any], job: FeedJob) -> datetime:
    for key in ("date_published", "date_modified"):
        if entry.get(key):
            return parse_date(entry[key])
    return job.now


def _json_authors(data: dict[str, Any]) -> str | None:
    authors = data.get("authors") or ([data["author"]] if data.get("author") else [])
    names = [str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    return ", ".join(names) or None


def _json_media(entry: dict[str, Any]) -> tuple[Media, ...]:
    media = [Media(str(entry[key])) for key in ("image", "banner_image") if entry.get(key)]
    for attachment in entry.get("attachments") or []:
        if isinstance(attachment, dict) and str(attachment.get("mime_type", "")).startswith(
            "image/"
        ):
            media.append(Media(str(attachment.get("url", "")), str(attachment.get("title", ""))))
    return _unique_media(media)
