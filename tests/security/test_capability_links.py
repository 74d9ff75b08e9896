"""Links that carry authority: kept out of logs, preferences links expire, confirm once."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import itsdangerous
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import minimal_config
from tests.web.conftest import confirm_path_from, outbox_messages

from digest.config import Settings
from digest.delivery import tokens
from digest.delivery.tokens import make_token, subscriber_token
from digest.signing import split_key_id
from digest.store import Store
from digest.store.tables import ConsentRow, SubscriberRow, SubscriptionRow
from digest.subscribers import add_subscriber


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30  # wall clock: waiting for a server process to start
    while time.monotonic() < deadline:  # wall clock: same
        if process.poll() is not None:
            raise AssertionError(process.communicate()[0].decode())
        try:
            httpx.get(url)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within 30 s")


def test_digest_serve_keeps_tokens_out_of_its_log_and_ignores_forwarded_for(
    tmp_path: Path, signing_key: str
) -> None:
    raw = minimal_config(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "digest.cli", "--config", str(config), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    secret_tokens = [
        subscriber_token(signing_key, "unsubscribe", 1, "weekly"),
        subscriber_token(signing_key, "preferences", 1, "weekly"),
        make_token(signing_key, "confirm", {"s": 1, "l": ["weekly"], "c": []}),
        make_token(signing_key, "approve", {"e": 1, "a": "approve", "r": "x", "n": "weekly"}),
    ]
    try:
        _wait_for(f"{base}/subscribe", process)
        for path, token in zip(("u", "p", "confirm", "staff/approve"), secret_tokens, strict=True):
            httpx.get(f"{base}/{path}/{token}?x=1")
        signup = httpx.post(
            f"{base}/subscribe",
            data={"email": "ada@example.org", "lists": "weekly"},
            headers={"X-Forwarded-For": "203.0.113.66"},  # a client choosing its own address
        )
        assert signup.status_code == 200
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    assert '"GET /u/[token]?x=1 HTTP/1.1" 200' in output  # the request is still logged
    for token in secret_tokens:
        assert split_key_id(token)[1] not in output
    from digest.store import open_store

    store = open_store(raw["store"]["url"])
    with store.session() as session:
        assert [c.ip for c in session.scalars(select(ConsentRow))] == ["127.0.0.1"]
    store.dispose()


def _subscriber(store: Store, now: datetime) -> int:
    with store.session() as session:
        return add_subscriber(session, "ada@example.org", now, lists=("weekly",)).id


def _later(monkeypatch: pytest.MonkeyPatch, delta: timedelta) -> None:
    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(
        itsdangerous.timed.time, "time", lambda: real_time() + delta.total_seconds()
    )


def test_a_preferences_link_expires_after_its_documented_age(
    client: TestClient,
    web_settings: Settings,
    store: Store,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sid = _subscriber(store, now)
    link = "/p/" + subscriber_token(web_settings.signing_keys(), "preferences", sid, "weekly")
    unsubscribe = "/u/" + subscriber_token(
        web_settings.signing_keys(), "unsubscribe", sid, "weekly"
    )
    _later(monkeypatch, tokens.PREFERENCES_MAX_AGE - timedelta(days=1))
    assert "ada@example.org" in client.get(link).text  # still good within its age
    assert "/p/" in client.get(unsubscribe).text
    _later(monkeypatch, timedelta(days=2))
    expired = client.get(link)
    assert expired.status_code == 410 and "ada@example.org" not in expired.text
    assert client.post(link, data={"action": "unsubscribe_all"}).status_code == 410
    # an old unsubscribe link still unsubscribes, but mints no fresh preferences link
    page = client.get(unsubscribe)
    assert page.status_code == 200 and "/p/" not in page.text
    done = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "/p/" not in done.text


def test_preferences_links_mailed_before_they_had_a_timestamp_work_until_the_cutoff(
    client: TestClient,
    web_settings: Settings,
    store: Store,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sid = _subscriber(store, now)
    old_style = itsdangerous.URLSafeSerializer(
        web_settings.signing_secret(), salt="digest.preferences"
    ).dumps({"s": sid, "l": "weekly"})
    monkeypatch.setattr(tokens, "LEGACY_PREFERENCES_UNTIL", datetime.max.replace(tzinfo=now.tzinfo))
    assert "ada@example.org" in client.get(f"/p/{old_style}").text
    monkeypatch.setattr(tokens, "LEGACY_PREFERENCES_UNTIL", datetime.min.replace(tzinfo=now.tzinfo))
    assert client.get(f"/p/{old_style}").status_code == 410


def test_a_confirm_link_cannot_resubscribe_someone_who_left(
    client: TestClient, web_settings: Settings, store: Store
) -> None:
    client.post("/subscribe", data={"email": "ada@example.org", "lists": ["weekly"]})
    path = confirm_path_from(outbox_messages(web_settings)[0])
    assert client.post(path).status_code == 200
    assert client.post(path).status_code == 200  # a double click while subscribed is harmless
    with store.session() as session:
        subscriber = session.scalars(select(SubscriberRow)).one()
        sid = subscriber.id
    token = subscriber_token(web_settings.signing_keys(), "unsubscribe", sid, "weekly")
    client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    replay = client.post(path)
    assert replay.status_code == 400 and "already used" in replay.text
    assert client.get(path).status_code == 400
    with store.session() as session:
        row = session.get(SubscriptionRow, (sid, "weekly"))
        assert row is not None and row.status == "unsubscribed"


def test_signing_up_again_after_leaving_still_works(
    client: TestClient,
    web_settings: Settings,
    store: Store,
    make_client: Callable[..., TestClient],
) -> None:
    client.post("/subscribe", data={"email": "ada@example.org", "lists": ["weekly"]})
    first = confirm_path_from(outbox_messages(web_settings)[0])
    client.post(first)
    with store.session() as session:
        sid = session.scalars(select(SubscriberRow.id)).one()
    client.post(
        "/u/" + subscriber_token(web_settings.signing_keys(), "unsubscribe", sid, "weekly"),
        data={"List-Unsubscribe": "One-Click"},
    )
    fresh = make_token(web_settings.signing_keys(), "confirm", {"s": sid, "l": ["weekly"], "c": []})
    assert client.post(f"/confirm/{fresh}").status_code == 200  # a new sign-up's new link
    with store.session() as session:
        row = session.get(SubscriptionRow, (sid, "weekly"))
        assert row is not None and row.status == "confirmed"
