"""Bluesky accounts as a source: affiliates' and state federations' own posts.

Reads ``app.bsky.feed.getAuthorFeed`` (``posts_no_replies``) from the public AppView
through the guarded client, page by page back to the start of the window; reposts and
pins are dropped. Handles are resolved to DIDs once and the DIDs kept in the source
state, so a renamed account is still followed. Record and embed types this reader does
not know are skipped with a warning: Bluesky adds new ones, and a new one must not sink
a collect.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from digest.config import BlueskySource, OriginConfig
from digest.errors import SourceError
from digest.http import FetchError, fetch
from digest.models import Item, Media, Origin, SocialPost
from digest.sanitize import sanitize_html
from digest.sources.base import SourceContext, register

POST_TYPE = "app.bsky.feed.post"
PAGE_SIZE = 100
MAX_PAGES = 20
GET_POSTS_MAX = 25  # uris per app.bsky.feed.getPosts
TITLE_MAX = 90
LIST_URL = re.compile(r"^https://bsky\.app/profile/([^/]+)/lists/([^/?#]+)")
PACK_URL = re.compile(r"^https://bsky\.app/starter-pack/([^/]+)/([^/?#]+)")
QUOTE_EMBEDS = ("app.bsky.embed.record#view",)


@dataclass(frozen=True)
class Account:
    actor: str  # DID when known, else the handle
    handle: str
    origin: Origin


def _origin(config: OriginConfig | None, name: str) -> Origin:
    if config is None:
        return Origin(name)
    return Origin(config.name, config.kind, config.state, config.url)


def plan_note(config: BlueskySource) -> str:
    """What a collect of this source would read, for ``collect --dry-run`` (reads are free)."""
    who = []
    if config.accounts:
        count = len(config.accounts)
        names = ", ".join(a.handle for a in config.accounts)
        who.append(f"{count} account{'s' if count != 1 else ''} ({names})")
    if config.list_uri:
        who.append(f"the members of {config.list_uri}")
    return (
        f"Bluesky: {' and '.join(who)}, up to {config.max_posts} posts each, "
        f"from {config.service} (free)"
    )


@register("bluesky")
class BlueskyReader:
    def describe(self, config: BlueskySource) -> str:
        return plan_note(config)

    async def read(self, config: BlueskySource, ctx: SourceContext) -> list[Item]:
        api: Xrpc = (
            RecordedXrpc(ctx.settings.resolve_path(config.recorded), ctx)
            if config.recorded
            else Xrpc(config.service, ctx)
        )
        accounts = await self._accounts(config, api, ctx)
        items: list[Item] = []
        failures = 0
        failed = failed_accounts(ctx)
        failed.clear()
        for account in accounts:
            try:
                posts = await self._posts(config, account, api, ctx)
                items.extend(posts)
                await self._forget_deleted(account, posts, api, ctx)
            except SourceError as exc:
                failures += 1
                failed[account.handle] = exc.message
                ctx.warn(f"{account.handle}: {exc.message}")
        if accounts and failures == len(accounts):
            raise SourceError(ctx.source_id, "no Bluesky account could be read")
        return items

    async def _accounts(
        self, config: BlueskySource, api: Xrpc, ctx: SourceContext
    ) -> list[Account]:
        dids = _dids(ctx)
        accounts = [
            Account(dids.get(a.handle, a.handle), a.handle, _origin(a.origin, a.handle))
            for a in config.accounts
        ]
        if config.list_uri:
            accounts.extend(await self._list_members(config, api, ctx))
        return accounts

    async def _list_members(
        self, config: BlueskySource, api: Xrpc, ctx: SourceContext
    ) -> list[Account]:
        assert config.list_uri is not None
        uri = await _at_uri(config.list_uri, api)
        if "/app.bsky.graph.starterpack/" in uri:
            pack = await api.get("app.bsky.graph.getStarterPack", starterPack=uri)
            uri = str(pack.get("starterPack", {}).get("list", {}).get("uri", ""))
            if not uri:
                raise SourceError(ctx.source_id, f"starter pack {config.list_uri} has no list")
        members: list[Account] = []
        cursor: str | None = None
        for _page in range(MAX_PAGES):
            page = await api.get("app.bsky.graph.getList", list=uri, limit=PAGE_SIZE, cursor=cursor)
            for entry in page.get("items", []):
                subject = entry.get("subject") or {}
                did, handle = subject.get("did"), subject.get("handle")
                if isinstance(did, str) and isinstance(handle, str):
                    name = str(subject.get("displayName") or handle)
                    origin = _origin(config.origin, name)
                    members.append(
                        Account(did, handle, Origin(name, origin.kind, origin.state, origin.url))
                    )
            cursor = page.get("cursor")
            if not cursor:
                break
        return members

    async def _posts(
        self, config: BlueskySource, account: Account, api: Xrpc, ctx: SourceContext
    ) -> list[Item]:
        items: list[Item] = []
        cursor: str | None = None
        for _page in range(MAX_PAGES):
            page = await api.get(
                "app.bsky.feed.getAuthorFeed",
                actor=account.actor,
                filter="posts_no_replies",
                limit=min(PAGE_SIZE, config.max_posts),
                cursor=cursor,
            )
            reached_start = False
            for entry in page.get("feed", []):
                if entry.get("reason"):
                    continue  # a repost or a pinned post: not this account's news now
                item = to_item(entry.get("post") or {}, account, config, ctx)
                if item is None:
                    continue
                if item.published_at < ctx.since:
                    reached_start = True
                    continue
                items.append(item)
            cursor = page.get("cursor")
            if reached_start or not cursor or len(items) >= config.max_posts:
                break
        return items[: config.max_posts]

    async def _forget_deleted(
        self, account: Account, posts: list[Item], api: Xrpc, ctx: SourceContext
    ) -> None:
        """Posts collected before and deleted since are removed from the store, so no
        later edition shows them. What was collected is kept in the source's state (the
        window's URIs per account); one missing from this read is asked for by URI, and
        only one the AppView no longer has is taken as deleted (an older post that just
        fell past this read's pages is still there)."""
        seen = {
            uri: at
            for uri, at in _seen(ctx).setdefault(account.handle, {}).items()
            if (moment := _parse_time(at)) is not None and moment >= ctx.since
        }
        current = {item.guid: item.published_at.isoformat() for item in posts}
        missing = [uri for uri in seen if uri not in current]
        gone: set[str] = set()
        for start in range(0, len(missing), GET_POSTS_MAX):
            chunk = missing[start : start + GET_POSTS_MAX]
            found = await api.get("app.bsky.feed.getPosts", uris=chunk)
            there = {p.get("uri") for p in found.get("posts", []) if isinstance(p, dict)}
            gone.update(uri for uri in chunk if uri not in there)
        kept = {uri: at for uri, at in seen.items() if uri not in gone}
        _seen(ctx)[account.handle] = kept | current
        if gone:
            ctx.removed.extend(sorted(gone))
            ctx.warn(f"{account.handle}: {len(gone)} post(s) deleted since collected; left out")


class Xrpc:
    """GET queries against an AppView through the guarded, size-capped client."""

    def __init__(self, service: str, ctx: SourceContext) -> None:
        self.base = service.rstrip("/")
        self.ctx = ctx

    async def get(self, method: str, **params: Any) -> dict[str, Any]:
        query = {k: v for k, v in params.items() if v is not None}
        url = str(httpx.URL(f"{self.base}/xrpc/{method}", params=query))
        try:
            result = await fetch(
                self.ctx.client, url, max_bytes=self.ctx.settings.network.max_bytes
            )
        except FetchError as exc:
            raise SourceError(self.ctx.source_id, str(exc)) from None
        if result.status == 429:
            reset = reset_time(result.headers.get("ratelimit-reset"))
            raise SourceError(
                self.ctx.source_id,
                f"{method}: rate limited until {reset}; the next collect retries",
            )
        if not result.ok:
            raise SourceError(
                self.ctx.source_id, f"{method}: HTTP {result.status} {_error_text(result.content)}"
            )
        try:
            data = httpx.Response(200, content=result.content).json()
        except ValueError:
            raise SourceError(self.ctx.source_id, f"{method}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise SourceError(self.ctx.source_id, f"{method}: unexpected answer")
        return data


class RecordedXrpc(Xrpc):
    """Recorded AppView answers from a folder, for demos and offline tests: the answer to
    ``method`` for ``actor`` (or ``list``) is ``<folder>/<method>/<actor>.json``; a page
    after the first is ``<actor>.<cursor>.json``. Nothing goes over the network."""

    def __init__(self, folder: Path, ctx: SourceContext) -> None:
        super().__init__(str(folder), ctx)
        self.folder = folder

    async def get(self, method: str, **params: Any) -> dict[str, Any]:
        who = str(params.get("actor") or params.get("list") or params.get("handle") or "all")
        name = who.replace("/", "_").replace(":", "_")
        cursor = params.get("cursor")
        path = self.folder / method / (f"{name}.{cursor}.json" if cursor else f"{name}.json")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SourceError(self.ctx.source_id, f"{method}: no recorded answer {path}") from None
        except (OSError, ValueError) as exc:
            raise SourceError(self.ctx.source_id, f"{method}: {path}: {exc}") from None
        if not isinstance(data, dict):
            raise SourceError(self.ctx.source_id, f"{method}: {path}: not a JSON object")
        return data


def reset_time(header: str | None) -> str:
    """A rate limit's reset header (Unix seconds) as a readable UTC time."""
    if header is None or not header.strip().isdigit():
        return "an unnamed time"
    return datetime.fromtimestamp(int(header), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _error_text(content: bytes) -> str:
    return content[:200].decode("utf-8", "replace")


def failed_accounts(ctx: SourceContext) -> dict[str, str]:
    """Accounts the last collect could not read (handle → why), for the roster report."""
    cursor = ctx.state.setdefault("cursor", {})
    if not isinstance(cursor, dict):
        cursor = ctx.state["cursor"] = {}
    failed = cursor.setdefault("failed_accounts", {})
    if not isinstance(failed, dict):
        failed = cursor["failed_accounts"] = {}
    return failed


def _seen(ctx: SourceContext) -> dict[str, dict[str, str]]:
    cursor = ctx.state.setdefault("cursor", {})
    if not isinstance(cursor, dict):
        cursor = ctx.state["cursor"] = {}
    seen = cursor.setdefault("seen", {})
    if not isinstance(seen, dict):
        seen = cursor["seen"] = {}
    return seen


def _dids(ctx: SourceContext) -> dict[str, str]:
    cursor = ctx.state.setdefault("cursor", {})
    if not isinstance(cursor, dict):
        cursor = ctx.state["cursor"] = {}
    dids = cursor.setdefault("dids", {})
    return dids if isinstance(dids, dict) else {}


async def _at_uri(value: str, api: Xrpc) -> str:
    """A list or starter pack given as at:// URI or bsky.app URL → at:// URI with a DID."""
    for pattern, collection in (
        (LIST_URL, "app.bsky.graph.list"),
        (PACK_URL, "app.bsky.graph.starterpack"),
    ):
        match = pattern.match(value)
        if match:
            actor, rkey = match.groups()
            if not actor.startswith("did:"):
                found = await api.get("com.atproto.identity.resolveHandle", handle=actor)
                actor = str(found.get("did", actor))
            return f"at://{actor}/{collection}/{rkey}"
    return value


NO_UNAUTHENTICATED = "!no-unauthenticated"


def hidden_from_logged_out(author: dict[str, Any]) -> bool:
    """The account asked not to be shown to logged-out viewers (Bluesky's own embed and
    web app respect this self-label; a public email or archive page must too)."""
    labels = author.get("labels") or []
    return any(isinstance(lab, dict) and lab.get("val") == NO_UNAUTHENTICATED for lab in labels)


def to_item(
    post: dict[str, Any], account: Account, config: BlueskySource, ctx: SourceContext
) -> Item | None:
    """One post view → an Item, or None (with a warning) when it is not a post we know."""
    record = post.get("record") or {}
    uri = post.get("uri")
    if record.get("$type") != POST_TYPE or not isinstance(uri, str):
        ctx.warn(f"{account.handle}: skipped a record of unknown type {record.get('$type')!r}")
        return None
    author = post.get("author") or {}
    if hidden_from_logged_out(author):
        return None
    did = str(author.get("did") or "")
    if did:
        _dids(ctx)[account.handle] = did
    card = social_post(post, record)
    media, links = _embed(post.get("embed"), account, ctx)
    return Item(
        source_id=ctx.source_id,
        guid=uri,
        url=card.post_url,
        title=short_title(card.text) or f"Post by {card.author_name}",
        origin=account.origin,
        published_at=_published(record, post, ctx.now),
        summary=sanitize_html(text_html(card.text, record.get("facets")) + links),
        author=card.author_name,
        tags=config.tags,
        media=media,
        post=card,
    )


def social_post(post: dict[str, Any], record: dict[str, Any]) -> SocialPost:
    """A post view (or a quoted record view) as the card's data."""
    author = post.get("author") or {}
    handle = str(author.get("handle") or "")
    uri = str(post.get("uri") or "")
    rkey = uri.rsplit("/", 1)[-1]
    post_url = f"https://bsky.app/profile/{handle or author.get('did', '')}/post/{rkey}"
    text = str(record.get("text") or "")
    embed = post.get("embed")
    if embed is None and isinstance(post.get("embeds"), list) and post["embeds"]:
        embed = post["embeds"][0]  # a quoted record view carries its embeds as a list
    images, external, quote = _card_embed(embed)
    created = _parse_time(record.get("createdAt")) or _parse_time(post.get("indexedAt"))
    return SocialPost(
        "bluesky",
        post_url,
        handle,
        str(author.get("displayName") or handle),
        str(author.get("did") or "") or None,
        _https(author.get("avatar")),
        text,
        created_at=created.isoformat() if created else None,
        facets=facets_of(text, record.get("facets")),
        images=images,
        external=external,
        quote=quote,
    )


def _card_embed(
    embed: Any,
) -> tuple[list[dict[str, str]], dict[str, str] | None, dict[str, Any] | None]:
    """Images, link card and quoted post of an embed view, for the card."""
    if not isinstance(embed, dict):
        return [], None, None
    kind = embed.get("$type")
    if kind == "app.bsky.embed.images#view":
        images = []
        for image in embed.get("images") or []:
            full = _https(image.get("fullsize")) or _https(image.get("thumb"))
            if full:
                thumb = _https(image.get("thumb")) or full
                images.append({"url": full, "thumb": thumb, "alt": str(image.get("alt") or "")})
        return images, None, None
    if kind == "app.bsky.embed.video#view":
        poster = _https(embed.get("thumbnail"))
        alt = str(embed.get("alt") or "")
        return ([{"url": poster, "thumb": poster, "alt": alt}] if poster else []), None, None
    if kind == "app.bsky.embed.external#view":
        ext = embed.get("external") or {}
        link = ext.get("uri")
        if not (isinstance(link, str) and link.startswith(("https://", "http://"))):
            return [], None, None
        card = {
            "uri": link,
            "title": str(ext.get("title") or ""),
            "description": str(ext.get("description") or ""),
            "thumb": _https(ext.get("thumb")) or "",
        }
        return [], card, None
    if kind == "app.bsky.embed.recordWithMedia#view":
        images, external, _ = _card_embed(embed.get("media"))
        _, _, quote = _card_embed(embed.get("record"))
        return images, external, quote
    if kind == "app.bsky.embed.record#view":
        return [], None, _quoted(embed.get("record"))
    return [], None, None


def _quoted(view: Any) -> dict[str, Any] | None:
    """A quoted post (``app.bsky.embed.record#viewRecord``), or None when it is gone,
    blocked, not a post, or from an account hidden from logged-out viewers."""
    if not isinstance(view, dict) or view.get("$type") != "app.bsky.embed.record#viewRecord":
        return None
    value = view.get("value") or {}
    if value.get("$type") != POST_TYPE or hidden_from_logged_out(view.get("author") or {}):
        return None
    quoted = social_post(view, value)
    data = quoted.to_dict()
    data["quote"] = None  # one level, as Bluesky's embed shows
    return data


def _published(record: dict[str, Any], post: dict[str, Any], now: datetime) -> datetime:
    created = _parse_time(record.get("createdAt")) or _parse_time(post.get("indexedAt"))
    if created is None or created > now:  # a clock set wrong must not pin a post on top
        created = _parse_time(post.get("indexedAt")) or now
    return min(created, now)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _https(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith("https://") else None


def _embed(embed: Any, account: Account, ctx: SourceContext) -> tuple[tuple[Media, ...], str]:
    """Images (with alt text) and a link card from a post's embed view."""
    if not isinstance(embed, dict):
        return (), ""
    kind = embed.get("$type")
    if kind == "app.bsky.embed.images#view":
        return tuple(
            Media(url, str(image.get("alt") or ""))
            for image in embed.get("images", [])
            if (url := _https(image.get("fullsize")) or _https(image.get("thumb")))
        ), ""
    if kind == "app.bsky.embed.video#view":
        thumb = _https(embed.get("thumbnail"))
        return ((Media(thumb, str(embed.get("alt") or "")),) if thumb else ()), ""
    if kind == "app.bsky.embed.external#view":
        external = embed.get("external") or {}
        link = external.get("uri")
        if isinstance(link, str) and link.startswith(("https://", "http://")):
            title = html.escape(str(external.get("title") or link))
            return (), f'<p><a href="{html.escape(link)}">{title}</a></p>'
        return (), ""
    if kind == "app.bsky.embed.recordWithMedia#view":
        return _embed(embed.get("media"), account, ctx)
    if kind in QUOTE_EMBEDS:
        return (), ""  # a quoted post: the card shows this account's own words only
    ctx.warn(f"{account.handle}: skipped an embed of unknown type {kind!r}")
    return (), ""


def short_title(text: str) -> str:
    """A short plain-text start of the post, cut at a word boundary."""
    first = " ".join(text.split())
    if len(first) <= TITLE_MAX:
        return first
    cut = first[: TITLE_MAX - 1].rsplit(" ", 1)[0]
    return cut + "…"


def text_html(text: str, facets: Any) -> str:
    """Post text → escaped HTML paragraphs, links from the post's own facets."""
    data = text.encode("utf-8")
    out: list[str] = []
    last = 0
    for start, end, href in _links(facets, len(data)):
        if start < last:
            continue  # overlapping facets: keep the first
        try:
            before = data[last:start].decode("utf-8")
            label = data[start:end].decode("utf-8")
        except UnicodeDecodeError:
            continue  # offsets inside a character: not a facet we can trust
        out.append(html.escape(before))
        out.append(f'<a href="{html.escape(href)}">{html.escape(label)}</a>')
        last = end
    out.append(html.escape(data[last:].decode("utf-8", "replace")))
    paragraphs = "".join(out).split("\n\n")
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs if p.strip())


def facets_of(text: str, facets: Any) -> list[dict[str, Any]]:
    """A record's facets as the card keeps them: byte ranges on character boundaries,
    sorted, no overlaps, each with the one feature the card links."""
    data = text.encode("utf-8")
    kept: list[dict[str, Any]] = []
    last = 0
    for facet in sorted(
        (f for f in facets if isinstance(f, dict)) if isinstance(facets, list) else [],
        key=lambda f: (f.get("index") or {}).get("byteStart") or 0,
    ):
        index = facet.get("index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and last <= start < end):
            continue
        if end > len(data) or not _on_boundaries(data, start, end):
            continue
        for feature in facet.get("features") or []:
            found = _feature(feature)
            if found:
                kept.append({"start": start, "end": end, "kind": found[0], "value": found[1]})
                last = end
                break
    return kept


def _on_boundaries(data: bytes, start: int, end: int) -> bool:
    """Neither offset falls inside a UTF-8 character (continuation bytes are 10xxxxxx)."""
    return all(i == len(data) or (data[i] & 0xC0) != 0x80 for i in (start, end))


def _feature(feature: Any) -> tuple[str, str] | None:
    if not isinstance(feature, dict):
        return None
    kind = feature.get("$type")
    if kind == "app.bsky.richtext.facet#link":
        uri = feature.get("uri")
        if isinstance(uri, str) and uri.startswith(("https://", "http://")):
            return "link", uri
    if kind == "app.bsky.richtext.facet#mention" and isinstance(feature.get("did"), str):
        return "mention", feature["did"]
    if kind == "app.bsky.richtext.facet#tag" and isinstance(feature.get("tag"), str):
        return "tag", feature["tag"]
    return None


def _links(facets: Any, size: int) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for facet in facets if isinstance(facets, list) else []:
        index = facet.get("index") or {} if isinstance(facet, dict) else {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= size):
            continue
        for feature in facet.get("features") or []:
            href = _feature_href(feature)
            if href:
                found.append((start, end, href))
                break
    return sorted(found)


def _feature_href(feature: Any) -> str | None:
    if not isinstance(feature, dict):
        return None
    kind = feature.get("$type")
    if kind == "app.bsky.richtext.facet#link":
        uri = feature.get("uri")
        return uri if isinstance(uri, str) and uri.startswith(("https://", "http://")) else None
    if kind == "app.bsky.richtext.facet#mention" and isinstance(feature.get("did"), str):
        return f"https://bsky.app/profile/{quote(feature['did'], safe=':')}"
    if kind == "app.bsky.richtext.facet#tag" and isinstance(feature.get("tag"), str):
        return f"https://bsky.app/hashtag/{quote(feature['tag'], safe='')}"
    return None
