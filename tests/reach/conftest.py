"""An edition built and sent by `digest run` from a feed with three stories, and the app."""

from __future__ import annotations

import email
import mailbox
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from digest.cli import app as cli
from digest.config import Settings, load_config
from digest.reach.links import read_click_token
from digest.store import Store, open_store
from digest.store.tables import EditionRow
from digest.subscribers import add_subscriber, suppress
from digest.web import create_app
from digest.web.auth import hash_password

STORIES = [
    ("Nurses win safe staffing", "https://news.example.com/nurses?id=1&x=2"),
    ("Teachers ratify contract", "https://news.example.com/teachers"),
    ("Grocery workers organize", "https://news.example.com/grocery"),
]
STAFF_PASSWORD = "correct horse battery staple"
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"
HREF = re.compile(r'<a\b[^>]*?\bhref="([^"]*)"')


def feed_xml(published: datetime) -> str:
    items = "".join(
        f"<item><title>{title}</title><link>{url.replace('&', '&amp;')}</link>"
        f"<guid>{url.replace('&', '&amp;')}</guid>"
        f"<description>&lt;p&gt;About {title.lower()}.&lt;/p&gt;</description>"
        f"<pubDate>{published:%a, %d %b %Y %H:%M:%S} +0000</pubDate></item>"
        for title, url in STORIES
    )
    channel = f"<channel><title>News</title>{items}</channel>"
    return f"<?xml version='1.0'?><rss version='2.0'>{channel}</rss>"


@dataclass
class Sent:
    settings: Settings
    store: Store
    edition_id: int
    config_path: Path
    messages: list[Message]

    def html_of(self, message: Message) -> str:
        for part in message.walk():
            if part.get_content_type() == "text/html":
                return part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        raise AssertionError("no HTML part")

    def hrefs(self, message: Message) -> list[str]:
        return [unescape(h) for h in HREF.findall(self.html_of(message))]


@pytest.fixture
def send_week(raw_config: dict[str, Any], tmp_path: Path, now: datetime) -> Callable[..., Sent]:
    """Write the config (with ``reach`` overrides), add subscribers, `digest run weekly`."""

    def run(people: int = 3, extra: dict[str, Any] | None = None, **reach: Any) -> Sent:
        (tmp_path / "feed.xml").write_text(feed_xml(now - timedelta(days=2)), encoding="utf-8")
        config = {**raw_config, **(extra or {})}
        if reach:
            config["reach"] = reach
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        settings = load_config(path)
        store = open_store(settings.store.url)
        with store.session() as session:
            for i in range(people):
                add_subscriber(session, f"member{i}@example.net", now, lists=("weekly",))
        result = CliRunner().invoke(
            cli, ["--config", str(path), "run", "weekly", "--at", now.isoformat()]
        )
        assert result.exit_code == 0, result.output
        with store.session() as session:
            edition_id = session.query(EditionRow.id).scalar()
        box = mailbox.Maildir(str(tmp_path / "out" / "outbox"), create=False)
        messages = [email.message_from_bytes(m.as_bytes()) for m in box]
        return Sent(settings, store, edition_id, path, messages)

    return run


@pytest.fixture
def week_with_readers(
    send_week: Callable[..., Sent], now: datetime, monkeypatch: pytest.MonkeyPatch
) -> Sent:
    """Four copies sent; two people read the first story, a scanner opens all; one leaves."""
    monkeypatch.setenv("DIGEST_TEST_STAFF_HASH", hash_password(STAFF_PASSWORD, n=2**10))
    sent = send_week(
        people=4,
        extra={"web": {"staff_password_hash": "${DIGEST_TEST_STAFF_HASH}"}},
        burst_seconds=0.1,
    )
    later = now + timedelta(hours=3)
    app = create_app(sent.settings, sent.store, clock=lambda: later)
    paths = story_paths(sent)
    with TestClient(app, follow_redirects=False) as client:
        for reader in ("a", "b"):
            client.get(paths[STORIES[0][1]], headers={"user-agent": f"{BROWSER} {reader}"})
        client.get(paths[STORIES[1][1]], headers={"user-agent": "Proofpoint URL Defense"})
        unsubscribe = next(h for h in sent.hrefs(sent.messages[0]) if "/u/" in h)
        response = client.post(urlsplit(unsubscribe).path, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    with sent.store.session() as session:
        suppress(session, "member3@example.net", "bounced", later)
    return sent


def story_paths(sent: Sent) -> dict[str, str]:
    """The redirect path of each story, by the URL its token is signed for."""
    secret = sent.settings.signing_keys()
    found = {}
    for path in link_paths(sent):
        click = read_click_token(secret, path.removeprefix("/r/"))
        assert click is not None
        found[click.url] = path
    return found


def link_paths(sent: Sent) -> list[str]:
    site = sent.settings.organization.site_url
    hrefs = sent.hrefs(sent.messages[0])
    return list(dict.fromkeys(urlsplit(h).path for h in hrefs if h.startswith(site + "/r/")))
