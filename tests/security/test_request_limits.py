"""Attack: huge request bodies (1 GB to ``POST /u/<any token>``, a 500 MB upload to
``/desk/login``) to exhaust the web server's memory and disk.

Each route's body is capped as it streams in (413 past the cap) and the one-click
token is checked before any body is read. The bodies are streamed through httpx's ASGI
transport, which hands the app one chunk per read: what the app pulled is counted.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx

from digest.config import Settings
from digest.delivery.tokens import subscriber_token
from digest.store import Store
from digest.store.tables import SubscriptionRow
from digest.subscribers import add_subscriber
from digest.web.app import create_app

CHUNK = b"x" * 65536
HUGE = 1024 * 1024 * 1024  # what the attacker offers to send


def is_active(session: Any, subscriber_id: int, list_name: str) -> bool:
    row = session.get(SubscriptionRow, (subscriber_id, list_name))
    return row is not None and row.status == "confirmed"


class Body:
    """An endless-looking upload that counts what the server actually read."""

    def __init__(self, prefix: bytes = b"") -> None:
        self.prefix = prefix
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.prefix:
            yield self.prefix
        while self.sent < HUGE:
            self.sent += len(CHUNK)
            yield CHUNK


def settings_with_key(make_settings: Any, monkeypatch: Any) -> Settings:
    monkeypatch.setenv("TEST_SIGNING_KEY", "limits-test-key")
    return make_settings(signing_key="${TEST_SIGNING_KEY}")  # type: ignore[no-any-return]


def post(settings: Settings, store: Store, now: datetime, path: str, **kwargs: Any) -> Any:
    async def go() -> httpx.Response:
        app = create_app(settings, store, clock=lambda: now)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.post(path, **kwargs)

    tracemalloc.start()
    try:
        response = asyncio.run(go())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response, peak


def test_one_click_checks_the_token_before_reading_the_body(
    make_settings: Any, store: Store, now: datetime, monkeypatch: Any
) -> None:
    settings = settings_with_key(make_settings, monkeypatch)
    body = Body()
    response, peak = post(
        settings,
        store,
        now,
        "/u/forged.token",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400 and "not valid" in response.text
    assert body.sent == 0  # not one byte of the body was read
    assert peak < 20 * 1024 * 1024


def test_a_huge_one_click_body_with_a_valid_token_is_cut_at_the_cap(
    make_settings: Any, store: Store, now: datetime, monkeypatch: Any
) -> None:
    settings = settings_with_key(make_settings, monkeypatch)
    with store.session() as session:
        person = add_subscriber(session, "ana@example.net", now, lists=("weekly",))
        session.flush()
        person_id = person.id
    token = subscriber_token(settings.signing_secret(), "unsubscribe", person_id, "weekly")
    body = Body(b"List-Unsubscribe=One-Click&pad=")
    response, peak = post(
        settings,
        store,
        now,
        f"/u/{token}",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert body.sent <= 2 * len(CHUNK)  # stopped within a chunk of the 4 KB cap
    assert peak < 20 * 1024 * 1024
    with store.session() as session:
        assert is_active(session, person_id, "weekly")  # the oversized request did nothing

    # the legitimate one-click request (RFC 8058) still works
    response, _ = post(settings, store, now, f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    with store.session() as session:
        assert not is_active(session, person_id, "weekly")


def test_login_uploads_are_refused_past_a_few_kilobytes(
    make_settings: Any, store: Store, now: datetime, monkeypatch: Any
) -> None:
    settings = settings_with_key(make_settings, monkeypatch)
    boundary = "XyZ"
    body = Body(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    response, peak = post(
        settings,
        store,
        now,
        "/desk/login",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert body.sent <= 2 * len(CHUNK)
    assert peak < 20 * 1024 * 1024
    # a declared length over the cap is refused before anything is read
    response, _ = post(
        settings,
        store,
        now,
        "/desk/login",
        content=b"x" * 20_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    # an ordinary sign-in form is read as before (refused here only for its CSRF token)
    response, _ = post(
        settings, store, now, "/desk/login", data={"email": "a@example.org", "password": "p"}
    )
    assert response.status_code in (403, 400)
