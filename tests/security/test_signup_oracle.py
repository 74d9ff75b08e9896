"""Attack: using the sign-up form as an oracle — its status (503 when the relay is
down, only for addresses that would get mail) and its time (~350 ms to mail vs ~40 ms
to skip) told whether an address is suppressed. And: the sign-up name, chosen by the
attacker, was printed in the confirmation mail sent to any address.

The form answers before anything is recorded or mailed (a background task), so every
valid sign-up gets the same page with the same status, whatever happens next.
"""

from __future__ import annotations

import mailbox
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from digest.store import Store
from digest.subscribers import suppress
from digest.web.app import create_app
from digest.web.ratelimit import RateLimiter


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens here once closed


def client_for(settings: Any, store: Store, now: datetime) -> TestClient:
    app = create_app(
        settings, store, clock=lambda: now, signup_limiter=RateLimiter(per_minute=99, burst=99)
    )
    return TestClient(app, base_url="http://testserver", follow_redirects=False)


def signup(client: TestClient, email: str, name: str = "") -> tuple[int, str]:
    response = client.post("/subscribe", data={"email": email, "name": name, "lists": ["weekly"]})
    return response.status_code, response.text.replace(email, "ADDRESS")


def test_suppressed_and_new_addresses_get_the_same_answer_with_the_relay_down(
    make_settings: Any, store: Store, now: datetime
) -> None:
    relay_down = {"type": "smtp", "host": "127.0.0.1", "port": closed_port(), "security": "none"}
    settings = make_settings(channels={"email": relay_down})
    with store.session() as session:
        suppress(session, "gone@example.net", "bounced", now)
    with client_for(settings, store, now) as client:
        suppressed = signup(client, "gone@example.net")
        new = signup(client, "new@example.net")
        refused = signup(client, "not an address")
    assert suppressed == new
    assert suppressed[0] == 200  # not 503: the relay being down is not the visitor's news
    assert refused[0] == 400  # what is wrong with the input is still said at once


def test_the_confirmation_still_goes_out_and_never_prints_the_given_name(
    make_settings: Any, store: Store, now: datetime, tmp_path: Path
) -> None:
    settings = make_settings()
    with client_for(settings, store, now) as client:
        status, _ = signup(client, "ana@example.net", name="Visit evil.example now")
    assert status == 200
    (message,) = list(mailbox.Maildir(tmp_path / "out" / "outbox", create=False))
    assert "ana@example.net" in str(message["To"])
    body = message.as_string()
    assert "/confirm/" in body
    assert "evil.example" not in body
