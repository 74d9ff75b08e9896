"""Bluesky counts read back from an AppView (a loopback stand-in answering getPosts)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from digest.cli import app as cli
from digest.store.tables import SocialPostRow

from .conftest import Sent

ROOT = "at://did:plc:federation/app.bsky.feed.post/3root"
REPLY = "at://did:plc:federation/app.bsky.feed.post/3reply"
GONE = "at://did:plc:federation/app.bsky.feed.post/3deleted"
POSTS = {
    ROOT: {"likeCount": 41, "repostCount": 12, "replyCount": 3, "quoteCount": 2},
    REPLY: {"likeCount": 5, "repostCount": 0, "replyCount": 0},
}


@pytest.fixture
def appview() -> Iterator[tuple[str, list[list[str]]]]:
    asked: list[list[str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            assert parts.path == "/xrpc/app.bsky.feed.getPosts"
            uris = parse_qs(parts.query)["uris"]
            asked.append(uris)
            posts = [{"uri": u, "cid": "bafy", **POSTS[u]} for u in uris if u in POSTS]
            body = json.dumps({"posts": posts}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()


def test_the_report_reads_and_keeps_the_bluesky_counts(
    send_week: Callable[..., Sent], appview: tuple[str, list[list[str]]], now: datetime
) -> None:
    base, asked = appview
    sent = send_week(people=1, extra={"network": {"allow_private": True}}, bluesky_appview=base)
    with sent.store.session() as session:
        for part, uri in enumerate((ROOT, REPLY, GONE)):
            session.add(
                SocialPostRow(
                    edition_id=sent.edition_id,
                    platform="bluesky",
                    part=part,
                    text="…",
                    status="posted",
                    remote_id=uri,
                    url=f"https://bsky.app/profile/fed/post/{part}",
                    posted_at=now,
                )
            )
    runner = CliRunner()
    config = ["--config", str(sent.config_path), "report", "weekly"]
    refreshed = runner.invoke(cli, [*config, "--social", "--json"])
    assert refreshed.exit_code == 0, refreshed.output
    assert asked == [[ROOT, REPLY, GONE]]
    social = {p["part"]: p["counts"] for p in json.loads(refreshed.output)["social"]}
    assert social == {
        0: {"likes": 41, "reposts": 12, "replies": 3, "quotes": 2},
        1: {"likes": 5, "reposts": 0, "replies": 0, "quotes": 0},
        2: {},  # deleted since it was posted: nothing to read
    }
    # kept: a later report shows them without asking the AppView again
    again = runner.invoke(cli, config)
    assert again.exit_code == 0 and "41 likes, 12 reposts, 3 replies, 2 quotes" in again.output
    assert len(asked) == 1
