"""Item 1 of the security issue: a missing signing key must not be a takeover."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from tests.conftest import minimal_config
from tests.web.conftest import STAFF_HASH, login, two_newsletter_overrides
from typer.testing import CliRunner

from digest.cli import app
from digest.config import Settings
from digest.delivery.tokens import make_token, subscriber_token
from digest.signing import SigningKeys, key_id
from digest.store import Store
from digest.subscribers import add_subscriber
from digest.web.auth import SESSION_COOKIE, SessionCodec, StaffSession

OLD_KEY = "the-old-signing-key-0123456789"
NEW_KEY = "the-new-signing-key-9876543210"


def _config_file(tmp_path: Path, **overrides: Any) -> Path:
    raw = minimal_config(tmp_path)
    raw.update(overrides)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _cli(config: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--config", str(config), *args])


COMMANDS = [
    ["serve"],
    ["send", "weekly"],
    ["schedule"],
    ["post", "weekly"],
    ["run", "weekly"],
    ["bounces", "--maildir", "bounces"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_commands_facing_people_refuse_the_demo_key(tmp_path: Path, command: list[str]) -> None:
    config = _config_file(tmp_path, signing_key="${DIGEST_KEY_NOBODY_SET}")
    result = _cli(config, *command)
    assert result.exit_code == 1
    assert "refuses to run" in result.output and "DIGEST_KEY_NOBODY_SET is not set" in result.output
    assert "digest web make-key" in result.output


def test_a_short_key_is_refused_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SHORT_KEY", "secret")
    config = _config_file(tmp_path, signing_key="${DIGEST_SHORT_KEY}")
    result = _cli(config, "send", "weekly")
    assert result.exit_code == 1 and "shorter than 16" in result.output


def test_check_config_reports_the_missing_key_and_passes_with_one(tmp_path: Path) -> None:
    missing = _cli(_config_file(tmp_path, signing_key="${DIGEST_KEY_NOBODY_SET}"), "check-config")
    assert missing.exit_code == 0  # the demo config is valid, for the demo
    assert "signing_key: DIGEST_KEY_NOBODY_SET is not set" in missing.output
    assert "refuse to run" in missing.output
    fine = _cli(_config_file(tmp_path), "check-config")  # the test key is set
    assert fine.exit_code == 0 and "signing_key" not in fine.output


def test_make_key_prints_a_fresh_strong_key() -> None:
    first = CliRunner().invoke(app, ["web", "make-key"])
    second = CliRunner().invoke(app, ["web", "make-key"])
    assert first.exit_code == 0
    key = first.stdout.strip()
    assert len(key) >= 40 and key != second.stdout.strip()
    assert key_id(key) in first.output  # says which id its tokens will carry


def _real_key_settings(
    make_settings: Callable[..., Settings],
    raw_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    *,
    old: str | None = None,
) -> Settings:
    monkeypatch.setenv("DIGEST_TEST_STAFF_HASH", STAFF_HASH)
    monkeypatch.setenv("DIGEST_ROTATED_KEY", NEW_KEY)
    extra: dict[str, Any] = {"signing_key": "${DIGEST_ROTATED_KEY}"}
    if old is not None:
        monkeypatch.setenv("DIGEST_ROTATED_OLD", old)
        extra["signing_keys_old"] = "${DIGEST_ROTATED_OLD}"
    return make_settings(**two_newsletter_overrides(raw_config), **extra)


def _subscriber(store: Store, now: datetime) -> int:
    with store.session() as session:
        return add_subscriber(session, "ada@example.org", now, lists=("weekly",)).id


def test_links_and_cookies_forged_with_the_demo_key_are_refused(
    make_settings: Callable[..., Settings],
    raw_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    make_client: Callable[..., TestClient],
    store: Store,
    now: datetime,
) -> None:
    settings = _real_key_settings(make_settings, raw_config, monkeypatch)
    client = make_client(settings)
    sid = _subscriber(store, now)
    demo = SigningKeys.demo(settings.organization.site_url)
    for forged in (
        subscriber_token(demo, "preferences", sid, "weekly"),
        subscriber_token(demo.current, "preferences", sid, "weekly"),  # with a made-up key id
        make_token(demo, "preferences", {"s": sid, "l": "weekly"}).split(".", 1)[1],  # no id
    ):
        page = client.get(f"/p/{forged}")
        assert page.status_code == 400 and "ada@example.org" not in page.text
    forged_cookie = SessionCodec(demo).dumps(StaffSession(csrf="x", session_id="guess"))
    client.cookies.set(SESSION_COOKIE, forged_cookie, path="/desk")
    assert client.get("/desk/").headers["location"] == "/desk/login"
    # the real key's links work
    real = subscriber_token(settings.signing_keys(), "preferences", sid, "weekly")
    assert "ada@example.org" in client.get(f"/p/{real}").text


def test_rotation_keeps_mailed_links_and_cookies_working_until_the_old_key_goes(
    make_settings: Callable[..., Settings],
    raw_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    make_client: Callable[..., TestClient],
    store: Store,
    now: datetime,
) -> None:
    sid = _subscriber(store, now)
    mailed = subscriber_token(OLD_KEY, "unsubscribe", sid, "weekly")
    assert mailed.startswith(key_id(OLD_KEY) + ".")  # the token names its key
    monkeypatch.setenv("DIGEST_OLD", OLD_KEY)
    monkeypatch.setenv("DIGEST_TEST_STAFF_HASH", STAFF_HASH)
    before = make_client(
        make_settings(**two_newsletter_overrides(raw_config), signing_key="${DIGEST_OLD}")
    )
    login(before)
    cookie = before.cookies.get(SESSION_COOKIE)

    rotated = make_client(_real_key_settings(make_settings, raw_config, monkeypatch, old=OLD_KEY))
    assert rotated.get(f"/u/{mailed}").status_code == 200
    rotated.cookies.set(SESSION_COOKIE, str(cookie), path="/desk")
    assert rotated.get("/desk/").status_code == 200  # still signed in across the rotation
    fresh = subscriber_token(
        _real_key_settings(make_settings, raw_config, monkeypatch).signing_keys(),
        "unsubscribe",
        sid,
        "weekly",
    )
    assert fresh.startswith(key_id(NEW_KEY) + ".")

    dropped = make_client(_real_key_settings(make_settings, raw_config, monkeypatch))
    assert dropped.get(f"/u/{mailed}").status_code == 400
    dropped.cookies.set(SESSION_COOKIE, str(cookie), path="/desk")
    assert dropped.get("/desk/").status_code == 303
    assert dropped.get(f"/u/{fresh}").status_code == 200
