"""One line per event with the run id; no secret ever reaches the log, even at DEBUG."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from digest.config import Settings
from digest.logs import configure_logging
from digest.schedule import run_period
from digest.store import Store

SECRETS = {
    "SMTP_PASSWORD": "hunter2-smtp-Pa55",
    "X_BEARER": "AAAAbearer-token-XYZ",
    "DIGEST_SIGNING_KEY": "sig-key-0123456789",
    "MY_API_TOKEN": "tok-unreferenced-but-secret-name",
}


@pytest.fixture
def captured(
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Callable[..., Settings],
    raw_config: dict[str, Any],
) -> Iterator[tuple[Settings, io.StringIO]]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    channels = {
        **raw_config["channels"],
        "relay": {
            "type": "smtp",
            "host": "127.0.0.1",
            "username": "${SMTP_PASSWORD}",
            "password": "${SMTP_PASSWORD}",
        },
    }
    sources = {
        **raw_config["sources"],
        "x": {
            "type": "x",
            "bearer_token": "${X_BEARER}",
            "accounts": [{"handle": "afl", "origin": {"name": "AFL"}}],
        },
    }
    settings = make_settings(
        channels=channels, sources=sources, signing_key="${DIGEST_SIGNING_KEY}"
    )
    stream = io.StringIO()
    handler = configure_logging(settings, logging.DEBUG, stream)
    yield settings, stream
    logging.getLogger().removeHandler(handler)


def test_secrets_never_reach_the_log_at_debug(
    captured: tuple[Settings, io.StringIO], store: Store
) -> None:
    settings, stream = captured
    log = logging.getLogger("digest.test")
    log.debug("logging in with %s / %s", SECRETS["SMTP_PASSWORD"], SECRETS["MY_API_TOKEN"])
    log.debug("request headers: {'Authorization': 'Bearer %s'}", SECRETS["X_BEARER"])
    log.info("Authorization: Basic dXNlcjpwYXNz")
    logging.getLogger("httpx").debug("GET https://api.x.com Authorization=%s", SECRETS["X_BEARER"])

    def leaky(settings: Settings, newsletter_id: str, **_: Any) -> Any:
        raise RuntimeError(f"SMTP login failed for password {SECRETS['SMTP_PASSWORD']}")

    send = datetime(2026, 11, 20, 16, tzinfo=ZoneInfo("America/New_York"))
    run_period(settings, store, "weekly", send, now=send + timedelta(minutes=1), runner=leaky)
    output = stream.getvalue()
    assert "event=run.failed" in output and "[redacted]" in output
    for value in SECRETS.values():
        assert value not in output
    assert "dXNlcjpwYXNz" not in output
    assert "api.x.com" not in output  # httpx is kept above DEBUG
    assert logging.getLogger("tweepy").getEffectiveLevel() > logging.DEBUG


def test_every_line_is_one_event_with_the_run_id(
    captured: tuple[Settings, io.StringIO], store: Store, pipeline: Any
) -> None:
    settings, stream = captured
    send = datetime(2026, 11, 20, 16, tzinfo=ZoneInfo("America/New_York"))
    result = run_period(settings, store, "weekly", send, now=send, runner=pipeline)
    assert result.record is not None
    lines = stream.getvalue().splitlines()
    run_lines = [line for line in lines if "event=run." in line]
    assert [line.split("event=")[1].split()[0] for line in run_lines] == [
        "run.started",
        "run.finished",
    ]
    assert all(f" run={result.record.id} " in line for line in run_lines)
    assert "newsletter=weekly" in run_lines[0] and "status=succeeded" in run_lines[1]


def test_tracebacks_stay_on_one_line(captured: tuple[Settings, io.StringIO]) -> None:
    _, stream = captured
    try:
        raise ValueError("first\nsecond")
    except ValueError:
        logging.getLogger("digest.test").exception("boom")
    [line] = stream.getvalue().splitlines()
    assert "Traceback" in line and "ValueError" in line


def test_subscribers_never_reach_run_errors_logs_or_database_errors(
    captured: tuple[Settings, io.StringIO], store: Store, pipeline: Any
) -> None:
    from sqlalchemy.exc import IntegrityError

    from digest.subscribers import add_subscriber

    settings, stream = captured
    now = datetime(2026, 11, 20, 16, tzinfo=ZoneInfo("America/New_York"))
    # a database error: SQLAlchemy would quote the bound values (address, name)
    with store.session() as session:
        add_subscriber(session, "jane.roe@example.net", now, name="Jane Roe")
    with pytest.raises(IntegrityError) as caught, store.session() as session:
        from sqlalchemy import insert

        from digest.store.tables import SubscriberRow

        session.execute(
            insert(SubscriberRow).values(
                email="jane.roe@example.net",
                name="Jane Roe",
                status="active",
                attributes={},
                created_at=now,
                updated_at=now,
            )
        )
    assert "jane.roe" not in str(caught.value) and "Jane Roe" not in str(caught.value)
    # a crash whose message quotes a recipient: stored and logged without the address
    pipeline.fail_with = RuntimeError("550 5.1.1 <jane.roe@example.net>: no such user")
    result = run_period(settings, store, "weekly", now, now=now, runner=pipeline)
    assert result.record is not None and result.record.error is not None
    assert "jane.roe" not in result.record.error and "[address]" in result.record.error
    assert "jane.roe" not in stream.getvalue()
