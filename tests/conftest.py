"""Fixtures shared by every test area: a valid config, a fresh store, a frozen clock."""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.config import Settings, validate_config
from digest.store import Store, open_store

# Friday 2026-11-20 16:00 in New York: the demo's weekly send time.
FROZEN_NOW = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def minimal_config(tmp_path: Path) -> dict[str, Any]:
    """The smallest valid config: one local feed, one format, one newsletter, a maildir."""
    feed = tmp_path / "feed.xml"
    if not feed.exists():
        feed.write_text(
            "<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>",
            encoding="utf-8",
        )
    return {
        "organization": {
            "name": "Test Federation",
            "postal_address": "1 Test Street, Testville, TS 00000",
            "site_url": "https://digest.example.org",
            "sender": {"name": "Test Federation", "email": "news@example.org"},
        },
        "signing_key": "${DIGEST_TEST_SIGNING_KEY}",
        "store": {"url": f"sqlite:///{tmp_path / 'digest.db'}"},
        "output_dir": str(tmp_path / "out"),
        "sources": {
            "blog": {"type": "feed", "path": str(feed), "origin": {"name": "Test Blog"}},
        },
        "formats": {
            "weekly_list": {
                "strategy": "list",
                "title": "Weekly List",
                "template": "weekly_list",
            }
        },
        "newsletters": {
            "weekly": {
                "title": "Weekly",
                "schedule": "fri 16:00",
                "timezone": "America/New_York",
                "formats": ["weekly_list"],
            }
        },
        "channels": {"email": {"type": "maildir", "path": str(tmp_path / "out" / "outbox")}},
    }


@pytest.fixture(autouse=True)
def signing_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A real (test-only) signing key: serve, send, post... refuse the demo key."""
    key = "test-signing-key-0123456789abcdef"
    monkeypatch.setenv("DIGEST_TEST_SIGNING_KEY", key)
    return key


@pytest.fixture
def raw_config(tmp_path: Path) -> dict[str, Any]:
    return minimal_config(tmp_path)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build Settings from the minimal config with overrides merged in."""

    def build(**overrides: Any) -> Settings:
        raw = copy.deepcopy(minimal_config(tmp_path))
        raw.update(overrides)
        return validate_config(raw, base_dir=tmp_path)

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.dispose()


@pytest.fixture
def now() -> datetime:
    return FROZEN_NOW


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-golden`` rewrites golden files (tests/render/golden) instead of comparing."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files with the current output instead of comparing",
    )


@pytest.fixture(autouse=True)
def _send_stop_cleared() -> Iterator[None]:
    """A test that asks the scheduler to stop (as SIGTERM does) sets the sender's
    process-wide stop flag; in a real process that is the end of it, here the next test
    runs in the same process."""
    yield
    from digest.delivery import sender

    sender.STOP.clear()


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """A command run in-process (`digest schedule`, `digest run`) configures logging onto
    the stderr CliRunner gave it; once that stream is closed, a later test's log line
    would print a logging error into its own output. Each test starts as it found it."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


POSTGRES_SERVER = os.environ.get(
    "DIGEST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A store URL on the PostgreSQL server, in a schema of this test's own (dropped
    after); the test is skipped, saying why, where no server answers."""
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_SERVER.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = f"digest_test_{uuid.uuid4().hex[:12]}"
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # no server here: say so instead of failing
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_SERVER}: {type(exc).__name__}")
    try:
        yield f"{POSTGRES_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
