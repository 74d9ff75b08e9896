"""Desk sessions end on the server; roles decide what each staff member may do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from tests.web.conftest import (
    STAFF_EMAIL,
    STAFF_PASSWORD,
    Clock,
    add_edition,
    csrf_from,
    login,
    outbox_messages,
)
from typer.testing import CliRunner

from digest.cli import app
from digest.config import Settings
from digest.store import Store
from digest.store.tables import EditionRow
from digest.web.auth import SESSION_COOKIE, hash_password
from digest.web.users import add_user, set_password

EDITOR, PUBLISHER = "ed@example.org", "pub@example.org"
PASSWORD = "a long enough password"


def _accounts(store: Store, now: datetime) -> None:
    add_user(store, EDITOR, hash_password(PASSWORD, n=2**10), "editor", now)
    add_user(store, PUBLISHER, hash_password(PASSWORD, n=2**10), "publisher", now)


def _status(store: Store, edition_id: int) -> str:
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        assert row is not None
        return row.status


def _replay(make_client: Callable[..., TestClient], cookie: str | None) -> int:
    """A new browser holding a copied cookie: 200 if it is still signed in."""
    thief = make_client()
    thief.cookies.set(SESSION_COOKIE, str(cookie), path="/desk")
    return thief.get("/desk/").status_code


def test_a_copied_cookie_stops_working_after_sign_out(
    client: TestClient, make_client: Callable[..., TestClient]
) -> None:
    csrf = login(client)
    cookie = client.cookies.get(SESSION_COOKIE)
    assert _replay(make_client, cookie) == 200  # the legitimate session works
    assert client.post("/desk/logout", data={"csrf_token": csrf}).status_code == 303
    assert _replay(make_client, cookie) == 303  # over on the server, not only in the browser


def test_a_password_change_ends_every_session_of_that_person(
    make_client: Callable[..., TestClient], store: Store, now: datetime
) -> None:
    _accounts(store, now)
    laptop, phone, other = make_client(), make_client(), make_client()
    login(laptop, EDITOR, PASSWORD)
    login(phone, EDITOR, PASSWORD)
    login(other, PUBLISHER, PASSWORD)
    ended = set_password(store, EDITOR, hash_password("the new password!", n=2**10), now)
    assert ended == 2
    assert laptop.get("/desk/").status_code == 303 and phone.get("/desk/").status_code == 303
    assert other.get("/desk/").status_code == 200  # someone else's session is untouched
    page = laptop.get("/desk/login")
    refused = laptop.post(
        "/desk/login",
        data={"email": EDITOR, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert refused.status_code == 403
    login(laptop, EDITOR, "the new password!")


def test_changing_the_bootstrap_hash_ends_bootstrap_sessions(
    client: TestClient, make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    login(client)  # the environment's password: bootstrap admin
    assert "admin" in client.get("/desk/").text
    monkeypatch.setenv("DIGEST_TEST_STAFF_HASH", hash_password("rotated password", n=2**10))
    assert client.get("/desk/").status_code == 303
    login(client, STAFF_EMAIL, "rotated password")


def test_an_account_password_rules_over_the_bootstrap_password(
    client: TestClient, store: Store, now: datetime
) -> None:
    _accounts(store, now)
    page = client.get("/desk/login")
    response = client.post(
        "/desk/login",
        data={"email": EDITOR, "password": STAFF_PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 403  # the bootstrap password cannot become the editor
    login(client, EDITOR, PASSWORD)


def test_an_editor_cannot_approve_or_hold_but_can_send_a_test(
    client: TestClient, web_settings: Settings, store: Store, now: datetime
) -> None:
    _accounts(store, now)
    edition = add_edition(store, period_end=now + timedelta(days=7))
    csrf = login(client, EDITOR, PASSWORD)
    for action in ("approve", "hold"):
        refused = client.post(f"/desk/editions/{edition}/{action}", data={"csrf_token": csrf})
        assert refused.status_code == 403 and "publisher role" in refused.text
    assert _status(store, edition) == "draft"
    sent = client.post(f"/desk/editions/{edition}/test", data={"csrf_token": csrf})
    assert sent.status_code == 303
    assert [m["To"] for m in outbox_messages(web_settings)] == [EDITOR]


def test_a_publisher_approves_and_it_is_recorded_under_their_address(
    client: TestClient, store: Store, now: datetime
) -> None:
    _accounts(store, now)
    edition = add_edition(store, period_end=now + timedelta(days=7))
    csrf = login(client, PUBLISHER, PASSWORD)
    assert (
        client.post(f"/desk/editions/{edition}/approve", data={"csrf_token": csrf}).status_code
        == 303
    )
    with store.session() as session:
        row = session.get(EditionRow, edition)
        assert row is not None and row.status == "approved" and row.approved_by == PUBLISHER


def test_sessions_expire_on_the_server(client: TestClient, clock: Clock) -> None:
    login(client)
    clock.advance(timedelta(hours=12, minutes=1))
    assert client.get("/desk/").status_code == 303


def _cli(config: Path, *args: str, password: str | None = None) -> Any:
    return CliRunner().invoke(
        app, ["--config", str(config), "web", *args], input=f"{password}\n" if password else None
    )


def test_user_commands_add_change_and_remove_accounts(
    web_settings: Settings,
    raw_config: dict[str, Any],
    tmp_path: Path,
    make_client: Callable[..., TestClient],
    store: Store,
) -> None:
    raw = {**raw_config, "store": {"url": store.engine.url.render_as_string(hide_password=False)}}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    added = _cli(
        config, "add-user", "Pub@Example.org", "--role", "publisher", "--stdin", password=PASSWORD
    )
    assert added.exit_code == 0 and "Added pub@example.org as publisher" in added.output
    again = _cli(config, "add-user", PUBLISHER, "--stdin", password=PASSWORD)
    assert again.exit_code == 1 and "already has an account" in again.output
    bad_role = _cli(config, "add-user", "x@example.org", "--role", "boss")
    assert bad_role.exit_code == 1 and "editor, publisher, admin" in bad_role.output
    listed = _cli(config, "users")
    assert "pub@example.org  publisher" in listed.output

    browser = make_client()
    login(browser, PUBLISHER, PASSWORD)
    changed = _cli(config, "set-password", PUBLISHER, "--stdin", password="another password")
    assert changed.exit_code == 0 and "1 session ended" in changed.output
    assert browser.get("/desk/").status_code == 303
    login(browser, PUBLISHER, "another password")

    removed = _cli(config, "remove-user", PUBLISHER)
    assert removed.exit_code == 0
    assert browser.get("/desk/").status_code == 303  # a removed account is signed out at once
    unknown = _cli(config, "remove-user", PUBLISHER)
    assert unknown.exit_code == 1 and "no staff account for pub@example.org" in unknown.output
