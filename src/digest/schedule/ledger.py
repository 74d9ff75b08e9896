"""The run ledger on the ``runs`` table: one row per (newsletter, period).

A run is claimed by inserting its row; the unique constraint on (newsletter, period_key)
makes the claim atomic across threads, processes and hosts. A row left 'running' by a
process that died is *stale* and may be taken over (resumed); a live one never is.
While a run is in progress its ``report`` column holds a lease (owner and heartbeat);
when it ends, the run's report replaces the lease. Owners and their liveness are the
one mechanism every ledger shares (:mod:`digest.store.lease`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from digest.store import Store, lease
from digest.store.tables import RUN_FINISHED, RunRow

FINISHED = RUN_FINISHED
# A lease whose heartbeat is older than this is stale even if its owner is on another host.
STALE_AFTER = timedelta(minutes=10)
HEARTBEAT_EVERY = 60.0  # seconds

_active_owners: set[str] = set()  # owners of runs in progress in this process
_active_lock = threading.Lock()


@dataclass(frozen=True)
class RunRecord:
    """A row of the run ledger, detached from the session."""

    id: int
    newsletter: str
    period_key: str
    scheduled_for: datetime | None
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    edition_id: int | None
    report: dict[str, Any] | None
    error: str | None

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    @property
    def first_started(self) -> datetime | None:
        """When the first attempt began (a takeover restarts ``started_at``)."""
        value = (self.lease or self.report or {}).get("first_started")
        return datetime.fromisoformat(value) if isinstance(value, str) else self.started_at

    @property
    def total_duration(self) -> timedelta | None:
        """From the first attempt's start to the end, across every attempt."""
        first = self.first_started
        if first is None or self.finished_at is None:
            return None
        return self.finished_at - first

    @property
    def lease(self) -> dict[str, Any] | None:
        lease = (self.report or {}).get("lease")
        return lease if isinstance(lease, dict) else None

    @property
    def phase(self) -> str | None:
        """'prepare' (approval preview) or 'send', while running or as last recorded."""
        lease = self.lease
        phase = lease.get("phase") if lease else (self.report or {}).get("phase")
        return str(phase) if phase else None

    @property
    def attempts(self) -> int:
        lease = self.lease
        value = lease.get("attempt") if lease else (self.report or {}).get("attempts")
        return int(value or 0)

    @classmethod
    def of(cls, row: RunRow) -> RunRecord:
        return cls(
            id=row.id,
            newsletter=row.newsletter,
            period_key=row.period_key,
            scheduled_for=row.scheduled_for,
            status=row.status,
            started_at=row.started_at,
            finished_at=row.finished_at,
            edition_id=row.edition_id,
            report=row.report,
            error=row.error,
        )


def new_owner() -> str:
    """An owner token naming this host and process, unique per run attempt."""
    return lease.new_owner()


def is_stale(record: RunRecord, now: datetime) -> bool:
    """True when a 'running' row's owner is gone (dead process, or no heartbeat for long)."""
    if record.status != "running":
        return False
    held = record.lease
    if held is None:
        return True
    owner = str(held.get("owner", ""))
    host, pid = lease.owner_host_pid(owner)
    if host == lease.HOST and pid is not None:
        if pid == os.getpid():
            with _active_lock:
                return owner not in _active_owners
        return lease.owner_is_gone(owner)
    heartbeat = held.get("heartbeat")
    if not isinstance(heartbeat, str):
        return True
    return now - datetime.fromisoformat(heartbeat) > STALE_AFTER


def _lease(
    owner: str, phase: str, now: datetime, attempt: int, first_started: datetime | None = None
) -> dict[str, Any]:
    return {
        "lease": {
            "owner": owner,
            "phase": phase,
            "heartbeat": now.isoformat(),
            "attempt": attempt,
            "first_started": (first_started or now).isoformat(),
        }
    }


def get(store: Store, newsletter: str, period_key: str) -> RunRecord | None:
    with store.session() as session:
        row = session.scalars(
            select(RunRow).where(RunRow.newsletter == newsletter, RunRow.period_key == period_key)
        ).one_or_none()
        return RunRecord.of(row) if row else None


def get_by_id(store: Store, run_id: int) -> RunRecord | None:
    with store.session() as session:
        row = session.get(RunRow, run_id)
        return RunRecord.of(row) if row else None


def claim(
    store: Store,
    newsletter: str,
    period_key: str,
    scheduled_for: datetime,
    *,
    now: datetime,
    owner: str,
    phase: str,
    takeover: Iterable[str] = ("failed",),
) -> RunRecord | None:
    """Take the (newsletter, period) run for ``owner``; None when someone else has it.

    A new row is inserted as 'running'. An existing row is taken over only when its
    status is in ``takeover`` or it is a stale 'running' row, with a compare-and-set on
    (status, started_at) so two claimants never both win.
    """
    try:
        with store.session() as session:
            row = RunRow(
                newsletter=newsletter,
                period_key=period_key,
                scheduled_for=scheduled_for,
                status="running",
                started_at=now,
                report=_lease(owner, phase, now, 1),
            )
            session.add(row)
            session.flush()
            record = RunRecord.of(row)
        _mark_active(owner)
        return record
    except IntegrityError:
        pass
    existing = get(store, newsletter, period_key)
    if existing is None:  # deleted between the insert and the read: try once more
        return claim(
            store,
            newsletter,
            period_key,
            scheduled_for,
            now=now,
            owner=owner,
            phase=phase,
            takeover=takeover,
        )
    if existing.status not in set(takeover) and not is_stale(existing, now):
        return None
    attempt = existing.attempts + 1
    with store.session() as session:
        conditions = [RunRow.id == existing.id, RunRow.status == existing.status]
        if existing.started_at is None:
            conditions.append(RunRow.started_at.is_(None))
        else:
            conditions.append(RunRow.started_at == existing.started_at)
        result = session.execute(
            update(RunRow)
            .where(*conditions)
            .values(
                status="running",
                started_at=now,
                finished_at=None,
                error=None,
                report=_lease(owner, phase, now, attempt, existing.first_started),
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
    _mark_active(owner)
    return get_by_id(store, existing.id)


def _mark_active(owner: str) -> None:
    with _active_lock:
        _active_owners.add(owner)


def release(owner: str) -> None:
    """Forget an owner: its rows, if still 'running', become stale (resumable)."""
    with _active_lock:
        _active_owners.discard(owner)


def finish(
    store: Store,
    run_id: int,
    status: str,
    *,
    now: datetime,
    report: dict[str, Any] | None = None,
    error: str | None = None,
    edition_id: int | None = None,
    owner: str | None = None,
) -> None:
    """Record how a claimed run (or one phase of it) ended."""
    with store.session() as session:
        row = session.get(RunRow, run_id)
        if row is None:
            return
        lease = (row.report or {}).get("lease") or {}
        row.status = status
        row.finished_at = now
        row.error = error
        row.report = {
            **(report or {}),
            "attempts": int(lease.get("attempt", 1)),
            "phase": lease.get("phase"),
            "first_started": lease.get("first_started"),
        }
        if edition_id is not None:
            row.edition_id = edition_id
    if owner is not None:
        release(owner)


def record_skipped(
    store: Store,
    newsletter: str,
    period_key: str,
    scheduled_for: datetime,
    *,
    now: datetime,
    reason: str,
) -> RunRecord | None:
    """Record a period that will not run; None if the period already has a row."""
    try:
        with store.session() as session:
            row = RunRow(
                newsletter=newsletter,
                period_key=period_key,
                scheduled_for=scheduled_for,
                status="skipped",
                finished_at=now,
                error=reason,
            )
            session.add(row)
            session.flush()
            return RunRecord.of(row)
    except IntegrityError:
        return None


def mark(
    store: Store,
    run_id: int,
    status: str,
    *,
    now: datetime,
    error: str | None = None,
    from_status: str | None = None,
) -> bool:
    """Set a row's status (optionally only if it is still ``from_status``)."""
    with store.session() as session:
        statement = update(RunRow).where(RunRow.id == run_id)
        if from_status is not None:
            statement = statement.where(RunRow.status == from_status)
        result = session.execute(statement.values(status=status, finished_at=now, error=error))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def ran_before(store: Store, newsletter: str, moment: datetime) -> bool:
    """Whether the newsletter has any run scheduled before ``moment`` (it was live then)."""
    with store.session() as session:
        query = select(RunRow.id).where(
            RunRow.newsletter == newsletter, RunRow.scheduled_for < moment
        )
        return session.scalars(query.limit(1)).first() is not None


def list_runs(store: Store, newsletter: str | None = None, limit: int = 50) -> list[RunRecord]:
    """Most recent first."""
    with store.session() as session:
        query = select(RunRow).order_by(RunRow.scheduled_for.desc(), RunRow.id.desc())
        if newsletter is not None:
            query = query.where(RunRow.newsletter == newsletter)
        return [RunRecord.of(row) for row in session.scalars(query.limit(limit))]


def beat(store: Store, run_id: int, owner: str, now: datetime) -> None:
    """Refresh a lease's heartbeat, only while ``owner`` still holds the row."""
    with store.session() as session:
        row = session.get(RunRow, run_id)
        if row is None or row.status != "running":
            return
        lease = dict(((row.report or {}).get("lease")) or {})
        if lease.get("owner") != owner:
            return
        lease["heartbeat"] = now.isoformat()
        row.report = {**(row.report or {}), "lease": lease}


@contextmanager
def heartbeat(
    store: Store,
    run_id: int,
    owner: str,
    clock: Callable[[], datetime],
    every: float = HEARTBEAT_EVERY,
) -> Iterator[None]:
    """Keep a lease fresh from a background thread while the body runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            try:
                beat(store, run_id, owner, clock())
            except Exception:  # a missed beat is not worth failing the run over
                continue

    thread = threading.Thread(target=loop, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
