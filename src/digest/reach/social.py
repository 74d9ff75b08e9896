"""Read back what an edition's Bluesky posts did: likes, reposts, replies and quotes.

The counts come from the public AppView's ``app.bsky.feed.getPosts`` (free, no account),
through the same guarded client as every other fetch, and are kept with the time they
were read, so the report shows them without asking the network each time. X's public
metrics are paid reads: digest does not read them (see docs/reach.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime

import httpx
from sqlalchemy import select

from digest.config import Settings
from digest.errors import DigestError
from digest.http import FetchError, fetch, make_client
from digest.store import Store
from digest.store.tables import SocialCountRow, SocialPostRow

GET_POSTS_BATCH = 25  # the most URIs getPosts takes at once
COUNTS = ("likeCount", "repostCount", "replyCount", "quoteCount")
NAMES = {
    "likeCount": "likes",
    "repostCount": "reposts",
    "replyCount": "replies",
    "quoteCount": "quotes",
}


async def _get_posts(
    settings: Settings, uris: Sequence[str], transport: httpx.AsyncBaseTransport | None
) -> dict[str, dict[str, int]]:
    base = settings.reach.bluesky_appview.rstrip("/")
    found: dict[str, dict[str, int]] = {}
    async with make_client(settings.network, transport) as client:
        for start in range(0, len(uris), GET_POSTS_BATCH):
            batch = list(uris[start : start + GET_POSTS_BATCH])
            url = str(httpx.URL(f"{base}/xrpc/app.bsky.feed.getPosts", params={"uris": batch}))
            result = await fetch(client, url, max_bytes=settings.network.max_bytes)
            if result.status != 200:
                raise DigestError(f"Bluesky AppView {base}: HTTP {result.status} for getPosts")
            for post in json.loads(result.content).get("posts", []):
                found[post["uri"]] = {NAMES[k]: int(post.get(k) or 0) for k in COUNTS}
    return found


def refresh_bluesky_counts(
    settings: Settings,
    store: Store,
    edition_id: int,
    now: datetime,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Read the counts of the edition's posted Bluesky parts again; returns how many."""
    with store.session() as session:
        posts = [
            (row.part, row.remote_id)
            for row in session.scalars(
                select(SocialPostRow).where(
                    SocialPostRow.edition_id == edition_id,
                    SocialPostRow.platform == "bluesky",
                    SocialPostRow.remote_id.is_not(None),
                )
            )
        ]
    uris = [uri for _, uri in posts if uri]
    if not uris:
        return 0
    try:
        counts = asyncio.run(_get_posts(settings, uris, transport))
    except (FetchError, ValueError, KeyError) as exc:
        raise DigestError(f"could not read the Bluesky counts: {exc}") from None
    with store.session() as session:
        for part, uri in posts:
            if uri not in counts:  # deleted since, or hidden from logged-out viewers
                continue
            row = session.get(SocialCountRow, (edition_id, "bluesky", part))
            if row is None:
                row = SocialCountRow(edition_id=edition_id, platform="bluesky", part=part)
                session.add(row)
            row.counts, row.read_at = counts[uri], now
    return len(counts)
