"""Collecting affiliates' posts from Bluesky and X through the collect stage."""

from __future__ import annotations

import json

import httpx

from digest.models import RunReport
from digest.sources import collect
from digest.store.items import items_between
from digest.store.tables import SourceState

# The tests have no DNS: allow_private lets the guard pass the public API hosts to the mock.
DID = "did:plc:ohioafl"


def post_view(rkey: str, text: str, created: str, **extra):
    return {
        "uri": f"at://{DID}/app.bsky.feed.post/{rkey}",
        "cid": "bafy" + rkey,
        "author": {
            "did": DID,
            "handle": "ohioaflcio.bsky.social",
            "displayName": "Ohio AFL-CIO",
            "avatar": "https://cdn.bsky.app/img/avatar/plain/x.jpg",
        },
        "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": created, **extra},
        "indexedAt": created,
    }


PAGE_1 = {
    "feed": [
        {
            "post": post_view(
                "3a",
                "Rally at the statehouse today! https://ohioaflcio.org/rally",
                "2026-11-19T15:00:00Z",
                facets=[
                    {
                        "index": {"byteStart": 31, "byteEnd": 58},
                        "features": [
                            {
                                "$type": "app.bsky.richtext.facet#link",
                                "uri": "https://ohioaflcio.org/rally",
                            }
                        ],
                    }
                ],
            )
            | {
                "embed": {
                    "$type": "app.bsky.embed.images#view",
                    "images": [
                        {
                            "thumb": "https://cdn.bsky.app/t.jpg",
                            "fullsize": "https://cdn.bsky.app/f.jpg",
                            "alt": "Workers with signs on the statehouse steps",
                        }
                    ],
                }
            }
        },
        {
            "post": post_view("3b", "Reposted", "2026-11-19T14:00:00Z"),
            "reason": {"$type": "app.bsky.feed.defs#reasonRepost"},
        },
        {
            "post": post_view("3c", "<script>alert(1)</script> new thing", "2026-11-18T10:00:00Z")
            | {"embed": {"$type": "app.bsky.embed.hologram#view"}}
        },
        {
            "post": {
                **post_view("3d", "", "2026-11-18T09:00:00Z"),
                "record": {"$type": "app.bsky.feed.futureThing"},
            }
        },
    ],
    "cursor": "page2",
}
PAGE_2 = {
    "feed": [{"post": post_view("2z", "Old news", "2026-10-01T10:00:00Z")}],
    "cursor": "page3",
}


def bluesky_handler(seen: list[httpx.Request]):
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.path == "/xrpc/app.bsky.feed.getAuthorFeed"
        assert request.url.params["filter"] == "posts_no_replies"
        page = PAGE_2 if request.url.params.get("cursor") == "page2" else PAGE_1
        return httpx.Response(200, json=page)

    return handle


def test_bluesky_posts_become_cards_with_dids_kept(make_settings, store, now):
    settings = make_settings(
        network={"allow_private": True},
        sources={
            "ohio": {
                "type": "bluesky",
                "accounts": [
                    {
                        "handle": "ohioaflcio.bsky.social",
                        "origin": {
                            "name": "Ohio AFL-CIO",
                            "kind": "state_federation",
                            "state": "OH",
                        },
                    }
                ],
            }
        },
    )
    seen: list[httpx.Request] = []
    report = RunReport()
    collect(settings, store, report, transport=httpx.MockTransport(bluesky_handler(seen)), now=now)
    assert len(seen) == 2  # paginated until the window start, then stopped
    with store.session() as session:
        items = items_between(session, now.replace(month=1), now, ["ohio"])
        state = session.get(SourceState, "ohio")
        assert state is not None and state.cursor["dids"] == {"ohioaflcio.bsky.social": DID}
    assert sorted(i.guid.rsplit("/", 1)[-1] for i in items) == ["3a", "3c"]
    rally = next(i for i in items if i.guid.endswith("3a"))
    assert rally.url == "https://bsky.app/profile/ohioaflcio.bsky.social/post/3a"
    assert rally.post is not None and rally.post.author_did == DID
    assert rally.origin.state == "OH"
    assert rally.media[0].alt == "Workers with signs on the statehouse steps"
    assert '<a href="https://ohioaflcio.org/rally"' in rally.summary
    other = next(i for i in items if i.guid.endswith("3c"))
    assert "<script>" not in other.summary
    warnings = " ".join(report.warnings)
    assert "app.bsky.embed.hologram#view" in warnings
    assert "app.bsky.feed.futureThing" in warnings


def test_x_is_off_until_opted_in_and_shows_the_cost(make_settings, store, now, monkeypatch):
    monkeypatch.setenv("X_BEARER", "token")
    source = {
        "type": "x",
        "bearer_token": "${X_BEARER}",
        "max_posts": 20,
        "accounts": [
            {"handle": "aflcio", "origin": {"name": "AFL-CIO"}},
            {"handle": "ohioaflcio", "origin": {"name": "Ohio AFL-CIO"}},
        ],
    }
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.url.path.startswith("/2/users/by/username/"):
            return httpx.Response(200, json={"data": {"id": "7", "username": "aflcio"}})
        assert request.headers["authorization"] == "Bearer token"
        assert request.url.params["exclude"] == "retweets,replies"
        assert "start_time" in request.url.params
        return httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "555",
                        "text": "Win! https://t.co/x",
                        "author_id": "7",
                        "created_at": "2026-11-19T12:00:00.000Z",
                        "attachments": {"media_keys": ["m1"]},
                        "entities": {
                            "urls": [
                                {
                                    "start": 5,
                                    "end": 19,
                                    "url": "https://t.co/x",
                                    "expanded_url": "https://aflcio.org/win",
                                    "display_url": "aflcio.org/win",
                                }
                            ]
                        },
                    }
                ],
                "includes": {
                    "users": [{"id": "7", "username": "aflcio", "name": "AFL-CIO"}],
                    "media": [
                        {
                            "media_key": "m1",
                            "type": "photo",
                            "url": "https://pbs.twimg.com/a.jpg",
                            "alt_text": "Crowd",
                        }
                    ],
                },
                "meta": {"result_count": 1},
            },
        )

    off = RunReport()
    settings = make_settings(network={"allow_private": True}, sources={"x": source})
    collect(settings, store, off, transport=httpx.MockTransport(handler), now=now)
    assert calls == []
    assert any("40 posts" in w and "$0.20" in w for w in off.warnings)

    on = RunReport()
    settings = make_settings(
        network={"allow_private": True}, sources={"x": {**source, "enabled": True}}
    )
    collect(settings, store, on, transport=httpx.MockTransport(handler), now=now)
    with store.session() as session:
        items = items_between(session, now.replace(month=1), now, ["x"])
    assert [i.guid for i in items] == ["555"]
    item = items[0]
    assert item.url == "https://x.com/aflcio/status/555"
    # The card shows what X shows (the display URL), linked to the expanded URL.
    assert item.post is not None and item.post.text == "Win! aflcio.org/win"
    assert item.post.facets == [
        {"start": 5, "end": 19, "kind": "link", "value": "https://aflcio.org/win"}
    ]
    assert item.post.images == [
        {
            "url": "https://pbs.twimg.com/a.jpg",
            "thumb": "https://pbs.twimg.com/a.jpg",
            "alt": "Crowd",
        }
    ]
    assert '<a href="https://aflcio.org/win"' in item.summary
    assert item.media[0].alt == "Crowd"
    assert json.dumps(on.to_dict()).count("token") == 0


def test_an_appview_429_on_one_account_is_a_warning_and_the_others_land(make_settings, store, now):
    reset = int(now.timestamp()) + 300
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        actor = request.url.params["actor"]
        seen.append(actor)
        if actor == "texasaflcio.bsky.social":
            return httpx.Response(
                429,
                headers={"ratelimit-remaining": "0", "ratelimit-reset": str(reset)},
                json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            )
        return httpx.Response(
            200, json={"feed": [{"post": post_view("3a", "Rally", "2026-11-19T15:00:00Z")}]}
        )

    accounts = [
        {"handle": "ohioaflcio.bsky.social", "origin": {"name": "Ohio AFL-CIO"}},
        {"handle": "texasaflcio.bsky.social", "origin": {"name": "Texas AFL-CIO"}},
    ]
    settings = make_settings(
        network={"allow_private": True},
        sources={"states": {"type": "bluesky", "accounts": accounts}},
    )
    report = RunReport()
    collect(settings, store, report, transport=httpx.MockTransport(handle), now=now)
    assert sorted(seen) == ["ohioaflcio.bsky.social", "texasaflcio.bsky.social"]  # no retry loop
    assert report.warnings == [
        "source 'states': texasaflcio.bsky.social: app.bsky.feed.getAuthorFeed: "
        "rate limited until "
        "2026-11-20 21:05:00 UTC; the next collect retries"
    ]
    with store.session() as session:
        items = items_between(session, now.replace(month=1), now, ["states"])
    assert [i.url for i in items] == ["https://bsky.app/profile/ohioaflcio.bsky.social/post/3a"]
