"""What a collected Bluesky post keeps for its card (facets, images, link card, quote),
which posts are left out (accounts hidden from logged-out viewers, posts deleted since)."""

from __future__ import annotations

from typing import Any

import httpx

from digest.models import RunReport
from digest.sources import collect
from digest.store.items import items_between

DID = "did:plc:mnafl"
AUTHOR = {"did": DID, "handle": "mnafl.bsky.social", "displayName": "Minnesota AFL-CIO"}


def view(rkey: str, text: str, created: str, **post: Any) -> dict[str, Any]:
    record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": created}
    record.update(post.pop("record", {}))
    return {
        "uri": f"at://{DID}/app.bsky.feed.post/{rkey}",
        "cid": "bafy" + rkey,
        "author": post.pop("author", AUTHOR),
        "record": record,
        "indexedAt": created,
        **post,
    }


TEXT = "Big win 🎉 for @nurses.bsky.social #union-made mnnurses.org/win…"


def byte_range(text: str, part: str) -> dict[str, int]:
    start = text.encode().index(part.encode())
    return {"byteStart": start, "byteEnd": start + len(part.encode())}


RICH = view(
    "1a",
    TEXT,
    "2026-11-19T15:00:00Z",
    record={
        "facets": [
            {
                "index": byte_range(TEXT, "@nurses.bsky.social"),
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:n"}],
            },
            {
                "index": byte_range(TEXT, "#union-made"),
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "union-made"}],
            },
            {
                "index": byte_range(TEXT, "mnnurses.org/win…"),
                "features": [
                    {"$type": "app.bsky.richtext.facet#link", "uri": "https://mnnurses.org/win"}
                ],
            },
        ]
    },
    embed={
        "$type": "app.bsky.embed.recordWithMedia#view",
        "media": {
            "$type": "app.bsky.embed.images#view",
            "images": [
                {"thumb": f"https://cdn.bsky.app/t{n}", "fullsize": f"https://cdn.bsky.app/f{n}"}
                | {"alt": f"photo {n}"}
                for n in range(3)
            ],
        },
        "record": {
            "$type": "app.bsky.embed.record#view",
            "record": {
                "$type": "app.bsky.embed.record#viewRecord",
                "uri": "at://did:plc:n/app.bsky.feed.post/9q",
                "author": {"did": "did:plc:n", "handle": "nurses.bsky.social"},
                "value": {
                    "$type": "app.bsky.feed.post",
                    "text": "We ratified!",
                    "createdAt": "2026-11-18T12:00:00Z",
                },
                "embeds": [
                    {
                        "$type": "app.bsky.embed.external#view",
                        "external": {
                            "uri": "https://mnnurses.org/contract",
                            "title": "The contract",
                            "description": "Read it",
                        },
                    }
                ],
            },
        },
    },
)
CARD = view(
    "1b",
    "Read the report",
    "2026-11-18T15:00:00Z",
    embed={
        "$type": "app.bsky.embed.external#view",
        "external": {
            "uri": "https://mnafl.org/report",
            "title": "The 2026 report",
            "description": "Wages up",
            "thumb": "https://cdn.bsky.app/card.jpg",
        },
    },
)
HIDDEN = view(
    "1c",
    "Not for logged-out eyes",
    "2026-11-18T16:00:00Z",
    author=AUTHOR | {"labels": [{"src": DID, "val": "!no-unauthenticated"}]},
)


def settings_for(make_settings):
    return make_settings(
        network={"allow_private": True},
        sources={
            "mn": {
                "type": "bluesky",
                "accounts": [{"handle": "mnafl.bsky.social", "origin": {"name": "MN AFL-CIO"}}],
            }
        },
    )


def handler(feed: list[dict[str, Any]], existing: set[str], asked: list[list[str]]):
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("app.bsky.feed.getPosts"):
            uris = request.url.params.get_list("uris")
            asked.append(uris)
            return httpx.Response(200, json={"posts": [{"uri": u} for u in uris if u in existing]})
        return httpx.Response(200, json={"feed": [{"post": p} for p in feed]})

    return handle


def test_a_post_keeps_facets_images_link_card_and_quote(make_settings, store, now):
    report = RunReport()
    transport = httpx.MockTransport(handler([RICH, CARD, HIDDEN], set(), []))
    collect(settings_for(make_settings), store, report, transport=transport, now=now)
    with store.session() as session:
        items = {i.guid[-2:]: i for i in items_between(session, now.replace(month=1), now)}
    assert set(items) == {"1a", "1b"}  # the hidden account's post is left out
    post = items["1a"].post
    assert post is not None
    assert [(f["kind"], f["value"]) for f in post.facets] == [
        ("mention", "did:plc:n"),
        ("tag", "union-made"),
        ("link", "https://mnnurses.org/win"),
    ]
    assert [i["alt"] for i in post.images] == ["photo 0", "photo 1", "photo 2"]
    assert post.created_at == "2026-11-19T15:00:00+00:00"
    quoted = post.quoted
    assert quoted is not None and quoted.text == "We ratified!"
    assert quoted.post_url == "https://bsky.app/profile/nurses.bsky.social/post/9q"
    assert quoted.external is not None and quoted.external["uri"] == "https://mnnurses.org/contract"
    card = items["1b"].post
    assert card is not None and card.external == {
        "uri": "https://mnafl.org/report",
        "title": "The 2026 report",
        "description": "Wages up",
        "thumb": "https://cdn.bsky.app/card.jpg",
    }


def test_a_post_deleted_after_collection_leaves_the_store(make_settings, store, now):
    settings = settings_for(make_settings)
    asked: list[list[str]] = []
    collect(
        settings,
        store,
        RunReport(),
        transport=httpx.MockTransport(handler([RICH, CARD], set(), asked)),
        now=now,
    )
    assert asked == []  # nothing collected before: nothing to check
    report = RunReport()
    # CARD is gone from the feed; the AppView no longer has it either. RICH stays.
    transport = httpx.MockTransport(handler([RICH], {RICH["uri"]}, asked))
    collect(settings, store, report, transport=transport, now=now)
    assert asked == [[CARD["uri"]]]
    with store.session() as session:
        guids = [i.guid for i in items_between(session, now.replace(month=1), now)]
    assert guids == [RICH["uri"]]
    assert any("1 post(s) deleted" in w for w in report.warnings)
    # A post that only fell out of the feed's pages but still exists is kept.
    collect(
        settings,
        store,
        RunReport(),
        transport=httpx.MockTransport(handler([], {RICH["uri"]}, asked)),
        now=now,
    )
    with store.session() as session:
        assert [i.guid for i in items_between(session, now.replace(month=1), now)] == [RICH["uri"]]
