"""Counting clicks without delaying the reader, and telling machines from people.

The redirect answers at once; the click goes into a queue that a writer thread stores in
batches. A busy store (SQLite's write lock, a PostgreSQL failover) only makes the writer
retry: the reader never waits and the click is kept until it is written.

A click is counted as a machine's when it is a HEAD request, a prefetch, comes from a
known link scanner, or is part of a burst: one client opening several links of one
edition within seconds, which is what mail security scanners do right after delivery.
Clicks are held for that window before they are stored, so the whole burst is marked.
The client (address and user agent) is only ever kept in memory, hashed with a key of
this process, to find bursts; it is never stored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from digest.store import Store
from digest.store.tables import ClickRow, SubscriberRow

log = logging.getLogger(__name__)

# Substrings of the user agents of link scanners, previewers and scripts (lower case).
SCANNER_AGENTS = (
    "bot",
    "spider",
    "crawl",
    "preview",
    "scanner",
    "barracuda",
    "mimecast",
    "proofpoint",
    "safelinks",
    "urldefense",
    "forcepoint",
    "trendmicro",
    "python-",
    "curl/",
    "wget/",
    "go-http-client",
    "headlesschrome",
    "okhttp",
    "java/",
)
PREFETCH_HEADERS = (("purpose", "prefetch"), ("sec-purpose", "prefetch"), ("x-moz", "prefetch"))


@dataclass
class PendingClick:
    edition_id: int
    link: int
    at: datetime
    seen: float  # monotonic time it arrived
    client: str  # hashed, never stored
    machine: bool = False
    reason: str | None = None
    subscriber_id: int | None = None


def machine_reason(method: str, headers: dict[str, str]) -> str | None:
    """Why a single request is a machine's, from the request alone (None: a person's)."""
    if method == "HEAD":
        return "head"
    for name, value in PREFETCH_HEADERS:
        if value in headers.get(name, "").lower():
            return "prefetch"
    agent = headers.get("user-agent", "").lower()
    if not agent:
        return "no-agent"
    if any(marker in agent for marker in SCANNER_AGENTS):
        return "scanner"
    return None


def forget_opted_out(session: Session, rows: list[ClickRow]) -> None:
    """Subscribers who switched per-person counting off are counted, but not named."""
    named = {row.subscriber_id for row in rows if row.subscriber_id is not None}
    if not named:
        return
    opted_out = set(
        session.scalars(
            select(SubscriberRow.id).where(
                SubscriberRow.id.in_(named), SubscriberRow.click_tracking.is_(False)
            )
        )
    )
    for row in rows:
        if row.subscriber_id in opted_out:
            row.subscriber_id = None


def set_click_tracking(session: Session, subscriber_id: int, allowed: bool) -> None:
    subscriber = session.get(SubscriberRow, subscriber_id)
    if subscriber is not None:
        subscriber.click_tracking = allowed


def click_tracking_of(session: Session, subscriber_id: int) -> bool:
    subscriber = session.get(SubscriberRow, subscriber_id)
    return bool(subscriber and subscriber.click_tracking)


class ClickRecorder:
    """Takes clicks from the redirect, marks bursts, writes them in batches in a thread."""

    def __init__(
        self,
        store: Store,
        *,
        burst_links: int = 3,
        burst_seconds: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.burst_links = burst_links
        self.burst_seconds = burst_seconds
        self.clock = clock
        self.monotonic = monotonic
        self._salt = os.urandom(16)
        self._lock = threading.Lock()
        self._held: deque[PendingClick] = deque()  # in arrival order, within the window
        self._ready: list[PendingClick] = []  # out of the window, waiting to be written
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._writing = 0  # clicks of the batch being written (a busy store: still pending)
        self.written = 0

    def client_key(self, address: str, agent: str) -> str:
        return hashlib.blake2b(f"{address}\0{agent}".encode(), key=self._salt).hexdigest()[:16]

    def record(
        self,
        edition_id: int,
        link: int,
        *,
        client: str,
        reason: str | None = None,
        subscriber_id: int | None = None,
    ) -> None:
        """Queue one click; marks it and its burst as a machine's where they form one."""
        click = PendingClick(
            edition_id, link, self.clock(), self.monotonic(), client, reason is not None, reason
        )
        click.subscriber_id = subscriber_id
        with self._lock:
            self._release_expired(click.seen)
            self._held.append(click)
            self._mark_burst(click)
        self._ensure_thread()

    def _mark_burst(self, click: PendingClick) -> None:
        same = [
            c for c in self._held if c.client == click.client and c.edition_id == click.edition_id
        ]
        if len({c.link for c in same}) >= self.burst_links:
            for earlier in same:
                earlier.machine = True
                earlier.reason = earlier.reason or "burst"

    def _release_expired(self, now: float) -> None:
        while self._held and now - self._held[0].seen >= self.burst_seconds:
            self._ready.append(self._held.popleft())

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="click-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(timeout=min(0.5, self.burst_seconds))
            self._wake.clear()
            self.flush(force=False)

    def flush(self, *, force: bool = True) -> int:
        """Write the clicks out of the burst window (all of them with ``force``)."""
        with self._lock:
            self._release_expired(float("inf") if force else self.monotonic())
            batch, self._ready = self._ready, []
            self._writing = len(batch)
        if not batch:
            return 0
        written = self._write(batch)
        with self._lock:
            self._writing = 0
            if not written:  # keep them: written on the next round
                self._ready[:0] = batch
        if not written:
            return 0
        self.written += len(batch)
        return len(batch)

    def _write(self, batch: list[PendingClick]) -> bool:
        rows = [
            ClickRow(
                edition_id=c.edition_id,
                link=c.link,
                at=c.at,
                machine=c.machine,
                reason=c.reason,
                subscriber_id=c.subscriber_id,
            )
            for c in batch
        ]
        try:
            with self.store.session() as session:
                forget_opted_out(session, rows)
                session.add_all(rows)
        except DBAPIError as exc:
            log.warning(
                "clicks: store busy, %d clicks kept for the next try (%s)", len(batch), exc.orig
            )
            return False
        return True

    def pending(self) -> int:
        with self._lock:
            return len(self._held) + len(self._ready) + self._writing

    def close(self, timeout: float = 10.0) -> None:
        """Write everything still queued, retrying a busy store until ``timeout``."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        deadline = self.monotonic() + timeout
        while self.pending() and self.monotonic() < deadline:
            if not self.flush(force=True):
                time.sleep(0.1)
        if self.pending():
            log.error("clicks: %d clicks could not be written before shutdown", self.pending())
