"""Fixtures for the web app: an app over a fresh store, a test client, a staff password."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from digest.config import Settings
from digest.store import Store
from digest.store.tables import EditionRow
from digest.web import create_app
from digest.web.auth import hash_password
from digest.web.ratelimit import RateLimiter

STAFF_PASSWORD = "correct horse battery staple"
STAFF_EMAIL = "editor@example.org"
# Cheap scrypt parameters keep the tests fast; the format is the same.
STAFF_HASH = hash_password(STAFF_PASSWORD, n=2**10)


class Clock:
    """A settable clock for the app (confirm expiry, pauses, timestamps)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def two_newsletter_overrides(raw: dict[str, Any]) -> dict[str, Any]:
    newsletters = dict(raw["newsletters"])
    newsletters["states"] = {
        "title": "In the States",
        "schedule": "mon 09:00",
        "timezone": "America/Chicago",
        "formats": ["weekly_list"],
    }
    return {
        "newsletters": newsletters,
        "web": {"staff_password_hash": "${DIGEST_TEST_STAFF_HASH}"},
    }


@pytest.fixture
def web_settings(
    make_settings: Callable[..., Settings],
    raw_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    monkeypatch.setenv("DIGEST_TEST_STAFF_HASH", STAFF_HASH)
    return make_settings(**two_newsletter_overrides(raw_config))


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def make_client(
    web_settings: Settings, store: Store, clock: Clock
) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def build(settings: Settings | None = None, **kwargs: Any) -> TestClient:
        app = create_app(settings or web_settings, store, clock=clock, **kwargs)
        client = TestClient(app, base_url="http://testserver", follow_redirects=False)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(signup_limiter=RateLimiter(per_minute=1000, burst=1000))


def outbox_messages(settings: Settings) -> list[Message]:
    channel = settings.channels["email"]
    path = settings.resolve_path(channel.path)  # type: ignore[union-attr]
    if not path.exists():
        return []
    return list(mailbox.Maildir(str(path), create=False))


def confirm_path_from(message: Message) -> str:
    """The /confirm/<token> path from a confirmation email's text part."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode()  # type: ignore[union-attr]
            match = re.search(r"https?://[^/\s]+(/confirm/\S+)", text)
            if match:
                return match.group(1)
    raise AssertionError("no confirm link in the message")


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD) -> str:
    """Sign in; return the CSRF token of the signed-in session."""
    page = client.get("/desk/login")
    response = client.post(
        "/desk/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/desk/").text)


def add_edition(
    store: Store,
    *,
    newsletter: str = "weekly",
    status: str = "draft",
    period_end: datetime,
    subject: str = "Weekly: 20 November",
    web_html: str = "<!DOCTYPE html><html lang='en'><title>x</title><h1>Edition page</h1></html>",
) -> int:
    with store.session() as session:
        row = EditionRow(
            newsletter=newsletter,
            period_key=period_end.isoformat(timespec="minutes"),
            period_start=period_end - timedelta(days=7),
            period_end=period_end,
            title="Weekly",
            subject=subject,
            status=status,
            sections=[],
            html="<html><body><p>Hello %%DIGEST_SUBSCRIBER_NAME%%</p>"
            "<a href='%%DIGEST_UNSUBSCRIBE_URL%%'>Unsubscribe</a></body></html>",
            text="Hello %%DIGEST_SUBSCRIBER_NAME%%\nUnsubscribe: %%DIGEST_UNSUBSCRIBE_URL%%",
            web_html=web_html,
            created_at=period_end,
            sent_at=period_end if status == "sent" else None,
        )
        session.add(row)
        session.flush()
        return row.id


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
    path.mkdir(parents=True, exist_ok=True)
    return path
