"""X accounts as a source: opt-in, bounded, and priced before it runs.

Reads each account's timeline from the API v2 user-timeline endpoint (the one tweepy's
``Client.get_users_tweets`` wraps: ``GET /2/users/:id/tweets`` with ``start_time``,
``end_time``, retweets and replies excluded) with an app bearer token, through the
guarded client so it is bounded in time and size like every other fetch. Every post read
costs money, so nothing is read unless the source says ``enabled: true``; until then the
collect shows what it would cost.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from digest.config import XSource
from digest.errors import ConfigError, SourceError
from digest.http import FetchError, bounded_body
from digest.models import Item, Media, Origin, SocialPost
from digest.sanitize import sanitize_html
from digest.sources.base import SourceContext, register
from digest.sources.bluesky import failed_accounts, reset_time, short_title

API = "https://api.x.com/2"
# The X API's pay-per-use price, in US dollars, for reading one post of another account.
# Source: the project's platform reference (reference/social.md, "Cost (2026,
# pay-per-use): … reading another account's post ≈ $0.005"). Update it when X does.
X_POST_READ_PRICE_USD = 0.005
MAX_PAGES = 5
PAGE_MIN, PAGE_MAX = 5, 100  # max_results bounds of GET /2/users/:id/tweets


def page_size(max_posts: int, read: int) -> int:
    """``max_results`` for the next page: what is still wanted, within the API's bounds."""
    return max(PAGE_MIN, min(PAGE_MAX, max_posts - read))


def estimated_reads(config: XSource) -> int:
    """The most posts one collect can read (and be billed for), pages as the reader asks."""
    per_account, pages = page_size(config.max_posts, 0), 1  # the first page is always asked
    while per_account < config.max_posts and pages < MAX_PAGES:
        per_account += page_size(config.max_posts, per_account)
        pages += 1
    return len(config.accounts) * per_account


def estimated_cost(config: XSource) -> float:
    """Upper bound in dollars for one collect of this source (posts read × price)."""
    return estimated_reads(config) * X_POST_READ_PRICE_USD


def cost_note(config: XSource) -> str:
    return (
        f"reads up to {estimated_reads(config)} posts "
        f"({len(config.accounts)} accounts × {config.max_posts}), "
        f"about ${estimated_cost(config):.2f} per collect at ${X_POST_READ_PRICE_USD} a post"
    )


def plan_note(config: XSource) -> str:
    """What a collect of this source would read and cost, for ``collect --dry-run``."""
    state = "on" if config.enabled else "off until 'enabled: true'"
    handles = ", ".join(f"@{a.handle.lstrip('@')}" for a in config.accounts)
    return f"X ({state}): {handles}; {cost_note(config)}"


@register("x")
class XReader:
    def describe(self, config: XSource) -> str:
        return plan_note(config)

    async def read(self, config: XSource, ctx: SourceContext) -> list[Item]:
        if not config.enabled:
            ctx.warn(f"X collection is off (set enabled: true to opt in); it {cost_note(config)}")
            return []
        try:
            token = config.bearer_token.resolve()
        except ConfigError as exc:
            raise SourceError(ctx.source_id, "; ".join(exc.problems)) from None
        api = XApi(ctx, token)
        items: list[Item] = []
        failed = failed_accounts(ctx)
        failed.clear()
        for account in config.accounts:
            try:
                items.extend(await self._account(config, account.handle, account.origin, api, ctx))
            except SourceError as exc:
                failed[account.handle] = exc.message
                ctx.warn(f"@{account.handle}: {exc.message}")
        return items

    async def _account(
        self, config: XSource, handle: str, origin_config: Any, api: XApi, ctx: SourceContext
    ) -> list[Item]:
        user_id = await self._user_id(handle, api, ctx)
        origin = Origin(
            origin_config.name, origin_config.kind, origin_config.state, origin_config.url
        )
        items: list[Item] = []
        token: str | None = None
        for _page in range(MAX_PAGES):
            page = await api.get(
                f"/users/{user_id}/tweets",
                start_time=_iso(ctx.since),
                end_time=_iso(ctx.now),
                max_results=page_size(config.max_posts, len(items)),
                exclude="retweets,replies",
                pagination_token=token,
                expansions="attachments.media_keys,author_id",
                **{
                    "tweet.fields": "created_at,entities,attachments,author_id",
                    "media.fields": "url,preview_image_url,alt_text,type",
                    "user.fields": "name,username,profile_image_url",
                },
            )
            items.extend(page_items(page, handle, origin, config, ctx))
            token = (page.get("meta") or {}).get("next_token")
            if not token or len(items) >= config.max_posts:
                break
        return items[: config.max_posts]

    async def _user_id(self, handle: str, api: XApi, ctx: SourceContext) -> str:
        cursor = ctx.state.setdefault("cursor", {})
        ids = cursor.setdefault("user_ids", {})
        if handle in ids:
            return str(ids[handle])
        found = await api.get(f"/users/by/username/{handle.lstrip('@')}")
        user_id = (found.get("data") or {}).get("id")
        if not user_id:
            raise SourceError(ctx.source_id, f"no X user @{handle}")
        ids[handle] = str(user_id)
        return str(user_id)


class XApi:
    def __init__(self, ctx: SourceContext, token: str) -> None:
        self.ctx = ctx
        self.headers = {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        query = {k: v for k, v in params.items() if v is not None}
        cap = self.ctx.settings.network.max_bytes
        try:
            async with self.ctx.client.stream(
                "GET", f"{API}{path}", params=query, headers=self.headers
            ) as response:
                body, truncated = await bounded_body(response, cap)
                if truncated:
                    raise SourceError(self.ctx.source_id, f"{path}: answer over {cap} bytes")
        except FetchError as exc:
            raise SourceError(self.ctx.source_id, f"{path}: {exc}") from None
        except httpx.HTTPError as exc:
            raise SourceError(self.ctx.source_id, f"{path}: {type(exc).__name__}") from None
        if response.status_code == 429:
            reset = reset_time(response.headers.get("x-rate-limit-reset"))
            raise SourceError(
                self.ctx.source_id, f"rate limited until {reset}; the next collect retries"
            )
        if response.status_code != 200:
            raise SourceError(self.ctx.source_id, f"{path}: HTTP {response.status_code}")
        data = httpx.Response(200, content=body).json()
        if not isinstance(data, dict):
            raise SourceError(self.ctx.source_id, f"{path}: unexpected answer")
        return data


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def page_items(
    page: dict[str, Any], handle: str, origin: Origin, config: XSource, ctx: SourceContext
) -> list[Item]:
    includes = page.get("includes") or {}
    media = {m.get("media_key"): m for m in includes.get("media", []) if isinstance(m, dict)}
    users = {u.get("id"): u for u in includes.get("users", []) if isinstance(u, dict)}
    items = []
    for tweet in page.get("data") or []:
        if not isinstance(tweet, dict) or "id" not in tweet or "text" not in tweet:
            ctx.warn(f"@{handle}: skipped a post in an unknown shape")
            continue
        author = users.get(tweet.get("author_id"), {})
        items.append(_item(tweet, author, media, handle, origin, config, ctx))
    return items


def _item(
    tweet: dict[str, Any],
    author: dict[str, Any],
    media: dict[Any, dict[str, Any]],
    handle: str,
    origin: Origin,
    config: XSource,
    ctx: SourceContext,
) -> Item:
    username = str(author.get("username") or handle.lstrip("@"))
    name = str(author.get("name") or username)
    tweet_id = str(tweet["id"])
    url = f"https://x.com/{username}/status/{tweet_id}"
    text, summary = _text_and_html(tweet)
    created = _time(tweet.get("created_at")) or ctx.now
    return Item(
        source_id=ctx.source_id,
        guid=tweet_id,
        url=url,
        title=short_title(text) or f"Post by {name}",
        origin=origin,
        published_at=min(created, ctx.now),
        summary=sanitize_html(summary),
        author=name,
        tags=config.tags,
        media=_media(tweet, media),
        post=x_card(tweet, author, media, url),
    )


def x_card(
    tweet: dict[str, Any], author: dict[str, Any], media: dict[Any, dict[str, Any]], url: str
) -> SocialPost:
    """A post's card data from its entities, in the shape Bluesky cards use: text with
    t.co links shown as their display URL, facets (byte offsets) for links, mentions and
    hashtags, every image with its alt text."""
    username = str(author.get("username") or url.split("/")[3])
    avatar = author.get("profile_image_url")
    text, facets = x_text_and_facets(tweet)
    created = _time(tweet.get("created_at"))
    return SocialPost(
        "x",
        url,
        username,
        str(author.get("name") or username),
        None,
        avatar if isinstance(avatar, str) and avatar.startswith("https://") else None,
        text,
        created_at=created.isoformat() if created else None,
        facets=facets,
        images=[{"url": m.url, "thumb": m.url, "alt": m.alt} for m in _media(tweet, media)],
    )


def x_text_and_facets(tweet: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The post's text (HTML entities X escapes undone, t.co links replaced by what X
    shows, media links dropped) and facets for its links, mentions and hashtags.

    Entities are found by their text from their start index on, not trusted by index
    alone: X counts indices over its escaped text and in code points."""
    source = html.unescape(str(tweet.get("text") or ""))
    entities = tweet.get("entities") or {}
    found: list[tuple[int, int, str, str, str]] = []  # start, end, shown, kind, value
    for entity in entities.get("urls") or []:
        short, expanded = entity.get("url"), entity.get("expanded_url")
        if not (isinstance(short, str) and isinstance(expanded, str)):
            continue
        shown = "" if entity.get("media_key") else str(entity.get("display_url") or expanded)
        if shown and not expanded.startswith(("https://", "http://")):
            continue
        found.append((*_locate(source, short, entity), shown, "link", expanded))
    for entity in entities.get("mentions") or []:
        name = entity.get("username")
        if isinstance(name, str):
            found.append((*_locate(source, "@" + name, entity), "@" + name, "mention", name))
    for entity in (entities.get("hashtags") or []) + (entities.get("cashtags") or []):
        tag = entity.get("tag")
        if isinstance(tag, str):
            found.append((*_locate(source, "#" + tag, entity), "#" + tag, "tag", tag))
    out, facets, last, size = [], [], 0, 0
    for start, end, shown, kind, value in sorted(f for f in found if f[0] >= 0):
        if start < last:
            continue
        before = source[last:start]
        out.append(before)
        size += len(before.encode())
        if shown:
            facets.append(
                {"start": size, "end": size + len(shown.encode()), "kind": kind, "value": value}
            )
            out.append(shown)
            size += len(shown.encode())
        last = end
    out.append(source[last:])
    return "".join(out).strip(), facets


def _locate(text: str, needle: str, entity: dict[str, Any]) -> tuple[int, int]:
    pattern = re.compile(re.escape(needle), re.IGNORECASE)
    hint = entity.get("start")
    match = pattern.search(text, max(0, int(hint) - 8)) if isinstance(hint, int) else None
    match = match or pattern.search(text)
    return (match.start(), match.end()) if match else (-1, -1)


def _text_and_html(tweet: dict[str, Any]) -> tuple[str, str]:
    """Plain text with t.co links expanded, and HTML with those links clickable."""
    text = str(tweet["text"])
    plain, marked = text, html.escape(text)
    for entity in (tweet.get("entities") or {}).get("urls", []):
        short, expanded = entity.get("url"), entity.get("expanded_url")
        if not (isinstance(short, str) and isinstance(expanded, str)):
            continue
        if not expanded.startswith(("https://", "http://")):
            continue
        shown = str(entity.get("display_url") or expanded)
        plain = plain.replace(short, expanded)
        anchor = f'<a href="{html.escape(expanded)}">{html.escape(shown)}</a>'
        marked = marked.replace(html.escape(short), anchor)
    paragraphs = [p for p in marked.split("\n\n") if p.strip()]
    return plain, "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)


def _media(tweet: dict[str, Any], media: dict[Any, dict[str, Any]]) -> tuple[Media, ...]:
    found = []
    for key in (tweet.get("attachments") or {}).get("media_keys", []):
        entry = media.get(key) or {}
        url = entry.get("url") or entry.get("preview_image_url")
        if isinstance(url, str) and url.startswith("https://"):
            found.append(Media(url, str(entry.get("alt_text") or "")))
    return tuple(found)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
