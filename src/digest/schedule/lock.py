"""One scheduler per store: a file lock next to a SQLite store, an advisory lock on PostgreSQL.

APScheduler must never share a job store between two scheduler processes (duplicate or
missed runs), so a second ``digest schedule`` on the same store refuses to start, or
waits as a standby until the first one exits.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, text

from digest.errors import DigestError
from digest.store.db import make_engine


class AlreadyRunning(DigestError):
    """Another scheduler holds the single-instance lock of this store."""


def lock_key(url: str) -> int:
    """A stable signed 64-bit key from a text (used for the lock file's name)."""
    digest = hashlib.sha256(f"digest.schedule:{url}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# The advisory-lock key is what the server itself says the store is (its database and
# schema), never the URL text: 127.0.0.1 and localhost, or two spellings of one host,
# must name one lock.
SERVER_KEY_SQL = (
    "SELECT hashtextextended('digest.schedule:' || current_database() || '.' "
    "|| current_schema(), 0)"
)


def lock_path(url: str) -> Path:
    """Where a SQLite store's lock file lives: next to the database file."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url.removeprefix("sqlite:///") + ".schedule.lock")
    name = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"digest-schedule-{name}.lock"


class FileLock:
    """An exclusive, non-blocking flock; the kernel frees it when the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"lock file {path}"
        self._file: IO[str] | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held while running
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def holder(self) -> str:
        try:
            pid = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return "unknown"
        return f"pid {pid}" if pid else "unknown"

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class AdvisoryLock:
    """A session-level pg_advisory_lock held on a dedicated connection."""

    def __init__(self, url: str) -> None:
        self.key = 0
        self.description = "PostgreSQL advisory lock"
        self._engine = make_engine(url)
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        connection = self._engine.connect()
        self.key = int(connection.execute(text(SERVER_KEY_SQL)).scalar_one())
        self.description = f"PostgreSQL advisory lock {self.key}"
        got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
        connection.commit()
        if not got:
            connection.close()
            return False
        self._connection = connection
        return True

    def holder(self) -> str:
        try:
            with self._engine.connect() as connection:
                pid = connection.execute(
                    text(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND ((classid::bigint << 32) | objid::bigint) = :k"
                    ),
                    {"k": self.key},
                ).scalar()
        except Exception:  # only for the message: never mask the refusal itself
            pid = None
        return f"backend pid {pid}" if pid else "another session"

    def release(self) -> None:
        if self._connection is not None:
            self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._connection.commit()
            self._connection.close()
            self._connection = None
        self._engine.dispose()


def _lock_for(url: str) -> FileLock | AdvisoryLock:
    if url.startswith(("postgresql", "postgres")):
        return AdvisoryLock(url)
    return FileLock(lock_path(url))


def acquire(
    url: str,
    *,
    wait: bool = False,
    poll: float = 5.0,
    stop: threading.Event | None = None,
) -> FileLock | AdvisoryLock | None:
    """Take the store's scheduler lock.

    Without ``wait``, raise AlreadyRunning if another scheduler holds it. With ``wait``
    (standby), poll until it is free; return None if ``stop`` is set first.
    """
    lock = _lock_for(url)
    while not lock.try_acquire():
        if not wait:
            raise AlreadyRunning(
                f"another 'digest schedule' is already running on this store "
                f"({lock.description}, held by {lock.holder()}); not starting a second one. "
                "Use --standby to wait and take over when it stops."
            )
        if stop is not None and stop.wait(poll):
            return None
        if stop is None:
            threading.Event().wait(poll)
    return lock
