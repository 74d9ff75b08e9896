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
import re
from collections import Counter
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from types import FunctionType
from typing import Any

import feedparser
import feedparser.mixin
import feedparser.urls

from digest.config import FeedSource
from digest.errors import SourceError
from digest.excerpts import (
    clean_title,
    excerpt_html,
    strip_boilerplate,
    title_from_text,
)
from digest.models import Item, Media
from digest.sanitize import plain_text, sanitize_html, strip_tracking
from digest.sources.base import DUPLICATE, INCOMPLETE, OVER_CAP, UNDATED, SourceContext, register
from digest.sources.entries import merge_tags, origin_of, read_bytes
from digest.sources.feed_dates import UntrustedDate, entry_date, strict_date
from digest.sources.feed_media import (
    audio_enclosure,
    drop_lead_image_from,
    first_image,
    json_media,
    listen_link,
    xml_media,
)
from digest.store.items import UNDATED as UNDATED_MARK  # dated when first seen

JSON_TYPES = ("application/feed+json", "application/json")
TEXT_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
# Skip reasons, as the run report names them.


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
        parsed = await _run_parse(job, ctx.cpu_pool)
        ctx.warnings.extend(parsed.warnings)
        for reason, count in parsed.skipped.items():
            ctx.skip(reason, count)
        return ctx.keep_recent(parsed.items, lambda item: item.published_at)


async def _run_parse(job: FeedJob, pool: Executor | None) -> ParsedFeed:
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
    since: datetime  # items published before this are left out (by the reader)
    warnings: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def warn(self, message: str) -> None:
        self.warnings.append(f"source '{self.source_id}': {message}")

    def fail(self, message: str) -> SourceError:
        return SourceError(self.source_id, message)


@dataclass
class ParsedFeed:
    """What parsing one feed gave: its items (of any age), warnings, and the entries
    left out or dated when first seen, by reason."""

    items: list[Item]
    warnings: list[str]
    skipped: dict[str, int]


def parse_feed(job: FeedJob) -> ParsedFeed:
    """The feed's items and warnings about it.

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
    return ParsedFeed(_unique(items, job), job.warnings, dict(job.skipped))


def _unique(items: list[Item], job: FeedJob) -> list[Item]:
    """The first of entries that repeat a guid (feeds do, across pages they merged)."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if item.guid in seen:
            job.skipped[DUPLICATE] += 1
            continue
        seen.add(item.guid)
        kept.append(item)
    return kept


def _looks_like_json(job: FeedJob) -> bool:
    if job.media_type in JSON_TYPES:
        return True
    return job.content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _item_time(found: datetime | None, problem: str | None, where: str, job: FeedJob) -> datetime:
    """The entry's date, or the collect's time for an undated entry (the store keeps the
    first one, so it is never re-stamped); an untrusted date is reported, not guessed."""
    if found is not None:
        return found
    if problem:
        job.warn(f"{where}: {problem}; dated when first seen instead")
    job.skipped[UNDATED] += 1
    return job.now


def xml_headers(job: FeedJob) -> dict[str, str]:
    """Response headers for feedparser. Under RFC 3023 a ``text/*`` type without a
    charset means US-ASCII and overrides the XML declaration, so feedparser calls most
    feeds served as ``text/xml`` or ``text/html`` ill-formed; feed readers let the
    document's BOM and XML declaration decide instead, as ``application/xml`` does. A
    charset the server did name is kept. Local files have no Content-Type at all."""
    charset = re.search(r"charset\s*=\s*\"?([\w.:-]+)", job.content_type, re.IGNORECASE)
    media = job.media_type
    if not media or media.startswith("text/") or "xml" not in media:
        media = "application/xml"
    content_type = f"{media}; charset={charset.group(1)}" if charset else media
    return {"content-location": job.url, "content-type": content_type}


def _without_prolog_junk(job: FeedJob) -> bytes:
    """The feed from its XML declaration on, when a server printed something first (a
    PHP notice, blank lines): XML allows nothing before the declaration."""
    content = job.content
    at = content.find(b"<?xml", 0, 4096)
    if at <= 0 or content[:at] in (b"\xef\xbb\xbf",):
        return content
    if content[:at].strip(b" \t\r\n\xef\xbb\xbf"):
        job.warn(f"{job.url}: text before the XML declaration ignored")
    return content[at:]


def parse_xml_feed(job: FeedJob) -> list[Item]:
    content = _without_prolog_junk(job)
    if b"<!ENTITY" in content[:65536]:
        # feedparser only turns off external entities; internal ones can explode.
        raise job.fail(f"refused {job.url}: the feed declares XML entities (<!ENTITY>)")
    # Bytes, never str: feedparser.parse(str) may treat the string as a path or URL.
    # feedparser's own sanitizer and URI resolver are off because every HTML field goes
    # through digest.sanitize (nh3, the one allowlist) with the content's xml:base (or
    # the entry link) as base URL; running both doubled the parsing time.
    parsed = feedparser.parse(
        content,
        response_headers=xml_headers(job),
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    entries = _newest(list(parsed.entries), job)
    items = [item for entry in entries if (item := _xml_item(entry, job))]
    problem = parsed.get("bozo_exception") if parsed.bozo else None
    if not items and (problem or not parsed.version):
        reason = problem or "no RSS or Atom feed found"
        served = f" (served as {job.media_type})" if job.media_type else ""
        raise job.fail(f"not a readable feed ({job.url}){served}: {reason}")
    if problem and not isinstance(problem, feedparser.CharacterEncodingOverride):
        job.warn(f"{job.url} is not well-formed ({problem}); read what could be parsed")
    elif problem:
        job.warn(f"{job.url}: {problem}")
    return items


def _newest(entries: list[Any], job: FeedJob) -> list[Any]:
    """At most ``max_entries`` entries, the newest (by feedparser's date, which is
    enough to rank them); the rest are counted, not read."""
    cap = job.config.max_entries
    if len(entries) <= cap:
        return entries
    job.skipped[OVER_CAP] += len(entries) - cap
    job.warn(f"{len(entries)} entries; read the newest {cap} (max_entries)")

    def stamp(entry: Any) -> float:
        parsed = entry.get("published_parsed") or entry.get("updated_parsed")
        return float(calendar.timegm(parsed)) if parsed else float("inf")

    return sorted(entries, key=stamp, reverse=True)[:cap]


def _xml_item(entry: Any, job: FeedJob) -> Item | None:
    link = _entry_link(entry)
    base = _base_url(entry, job, link)
    is_video = bool(entry.get("yt_videoid"))
    body = sanitize_html(_html_of(_rich_content(entry)), base_url=base)
    description = sanitize_html(
        _html_of(entry.get("summary_detail"), plain=is_video), base_url=base
    )
    title = clean_title(str(entry.get("title", "")), _is_html(entry.get("title_detail")))
    if not (link or entry.get("id") or plain_text(description + body)):
        job.skipped[INCOMPLETE] += 1  # a cut-off <item> (a truncated feed)
        return None
    media = xml_media(entry) or first_image(body or description)
    # Without content:encoded the description is the post (often a whole article).
    body = strip_boilerplate(drop_lead_image_from(body or description, media), title)
    summary = excerpt_html(description or body, job.config.excerpt_chars, title=title)
    where = f"entry '{title or link or entry.get('id', '?')}'"
    title = title or _untitled(description or body, media, job)
    guid = str(entry.get("id") or link or _hash_guid(title + plain_text(summary)))
    extra: dict[str, Any] = {}
    audio = audio_enclosure(entry)
    if audio:
        extra["audio"] = audio
        summary += listen_link(audio)
        body += listen_link(audio)
    found, problem = entry_date(entry)
    if found is None:
        extra[UNDATED_MARK] = True
    return Item(
        source_id=job.source_id,
        guid=guid,
        url=link,
        title=title,
        origin=origin_of(job.config.origin),
        published_at=_item_time(found, problem, where, job),
        summary=summary,
        body=body,
        author=entry.get("author") or None,
        tags=merge_tags((t.get("term") or "" for t in entry.get("tags", [])), job.config.tags),
        media=media,
        extra=extra,
    )


def _entry_link(entry: Any) -> str:
    """The story's own address: FeedBurner's ``origLink`` rather than its
    feedproxy.google.com redirect, without click-tracking parameters."""
    for candidate in (entry.get("feedburner_origlink"), entry.get("link")):
        if candidate and str(candidate).startswith(("http://", "https://")):
            return strip_tracking(str(candidate).strip())
    return ""


def _base_url(entry: Any, job: FeedJob, link: str) -> str | None:
    """What relative links in the entry's HTML resolve against: the ``xml:base`` in
    effect where the content is (feedparser reports it as the content's ``base``), or
    without one the entry's own link (as feed readers do)."""
    for detail in (*(entry.get("content") or []), entry.get("summary_detail")):
        base = str((detail or {}).get("base") or "")
        if base and base != job.url and base.startswith(("http://", "https://")):
            return base
    return link or None


def _rich_content(entry: Any) -> Any:
    # feedparser files media:description under content as text/plain; prefer real HTML.
    contents = entry.get("content") or []
    rich = [c for c in contents if c.get("type") in ("text/html", "application/xhtml+xml")]
    return rich[0] if rich else None


def _is_html(detail: Any) -> bool:
    return bool(detail) and detail.get("type") != "text/plain"


def _untitled(text_html: str, media: tuple[Media, ...], job: FeedJob) -> str:
    """A headline for a post without one (Bluesky, Mastodon, Tumblr photos): its first
    sentence, else its picture's description, never its URL."""
    alt = media[0].alt.strip() if media else ""
    return title_from_text(text_html) or alt or f"A post from {job.config.origin.name}"


def _html_of(detail: Any, plain: bool = False) -> str:
    """Text content as HTML: feedparser leaves text/plain unescaped and unsanitized."""
    if not detail or not detail.get("value"):
        return ""
    value = str(detail["value"])
    if plain or detail.get("type") == "text/plain" or "<" not in value:
        return text_to_html(value)  # plain words in an RSS description, too
    return value


def text_to_html(value: str) -> str:
    """Plain text as paragraphs (blank lines) and line breaks (single newlines), its
    web addresses made links (without their tracking parameters)."""
    paragraphs = (p.strip() for p in value.replace("\r\n", "\n").split("\n\n"))
    return "".join(
        "<p>" + "<br>".join(_linked(line.strip()) for line in p.split("\n")) + "</p>"
        for p in paragraphs
        if p
    )


def _linked(line: str) -> str:
    out, last = [], 0
    for match in TEXT_URL.finditer(line):
        url = html.escape(strip_tracking(match.group(0)))
        out.append(html.escape(line[last : match.start()]))
        out.append(f'<a href="{url}" rel="noopener noreferrer">{url}</a>')
        last = match.end()
    return "".join(out) + html.escape(line[last:])


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
    if len(entries) > job.config.max_entries:
        job.skipped[OVER_CAP] += len(entries) - job.config.max_entries
        job.warn(f"{len(entries)} items; read the first {job.config.max_entries} (max_entries)")
        entries = entries[: job.config.max_entries]
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
    # A link post's story is its external_url; url is the blog's page about it.
    page = str(entry.get("url") or "")
    link = strip_tracking(str(entry.get("external_url") or page))
    guid = str(entry.get("id") or page or link)
    if not guid:
        raise ValueError("no id and no url")
    base = link if link.startswith(("http://", "https://")) else None
    body = sanitize_html(str(entry.get("content_html") or ""), base_url=page or base)
    if not body and entry.get("content_text"):
        body = text_to_html(str(entry["content_text"]))
    title = clean_title(str(entry.get("title") or ""), True)
    media = json_media(entry) or first_image(body)
    body = strip_boilerplate(drop_lead_image_from(body, media), title)
    limit = job.config.excerpt_chars
    given = text_to_html(str(entry["summary"])) if entry.get("summary") else ""
    summary = excerpt_html(given or body, limit, title=title)
    where = f"JSON Feed item '{title or guid}'"
    title = title or _untitled(given or body, media, job)
    found, problem = _json_time(entry)
    return Item(
        source_id=job.source_id,
        guid=guid,
        url=link,
        title=title,
        origin=origin_of(job.config.origin),
        published_at=_item_time(found, problem, where, job),
        summary=summary,
        body=body,
        author=_json_authors(entry) or feed_authors,
        tags=merge_tags([str(t) for t in entry.get("tags") or []], job.config.tags),
        media=media,
        extra={UNDATED_MARK: True} if found is None else {},
    )


def _json_time(entry: dict[str, Any]) -> tuple[datetime | None, str | None]:
    """RFC 3339 dates, as JSON Feed requires; anything else is reported."""
    problem = None
    for key in ("date_published", "date_modified"):
        if entry.get(key):
            try:
                return strict_date(str(entry[key])), None
            except UntrustedDate as exc:
                problem = problem or str(exc)
    return None, problem


def _json_authors(data: dict[str, Any]) -> str | None:
    authors = data.get("authors") or ([data["author"]] if data.get("author") else [])
    names = [str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    return ", ".join(names) or None
