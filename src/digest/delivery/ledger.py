"""The delivery ledger: one row per (edition, subscriber), states recorded before each step.

pending → sending (claimed, committed before any byte goes out) → sent (after the 250) |
failed | suppressed; a 4xx puts the row back to pending with ``next_attempt_at``. A crash
leaves at most one claimed batch in 'sending'; the next run puts those back to pending,
so nobody is skipped and duplicates are bounded by the batch (the in-flight window).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import String, Table, and_, bindparam, func, insert, literal, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.store import Store
from digest.store.tables import (
    DeliveryRow,
    EditionRow,
    SubscriberRow,
    SubscriptionRow,
    SuppressionRow,
)
from digest.subscribers import confirmed_audience, suppress

D = cast(Table, DeliveryRow.__table__)
E = cast(Table, EditionRow.__table__)
FROZEN = ("sending", "sent", "paused")
LEASE = timedelta(seconds=60)
INSERT_CHUNK = 5000


class EditionLocked(DigestError):
    """Another sender holds this edition."""


class Claimed(NamedTuple):  # a tuple: built per row, cheaper than a frozen dataclass
    subscriber_id: int
    email: str
    name: str | None
    attempts: int  # including this one
    excluded: str | None  # why this row must not be sent after all (unsubscribed since)


class Outcome(NamedTuple):
    subscriber_id: int
    email: str
    status: str  # sent | pending | failed | suppressed | unattempted
    attempts: int = 0
    message_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None


def freeze_audience(session: Session, edition: EditionRow, list_name: str, now: datetime) -> int:
    """Write the ledger rows once, when sending starts; later calls change nothing."""
    if edition.status in FROZEN:
        return 0
    count = 0
    chunk: list[dict[str, Any]] = []
    for recipient in confirmed_audience(session, list_name, now):
        chunk.append(
            {
                "edition_id": edition.id,
                "subscriber_id": recipient.subscriber_id,
                "email": recipient.email,
                "name": recipient.name,
                "status": "pending",
                "attempts": 0,
            }
        )
        if len(chunk) >= INSERT_CHUNK:
            count += _insert(session, chunk)
            chunk = []
    count += _insert(session, chunk)
    from digest import lifecycle

    lifecycle.transition(session, edition, lifecycle.EditionStatus.SENDING, actor="sender", now=now)
    return count


def _insert(session: Session, rows: list[dict[str, Any]]) -> int:
    if rows:
        session.execute(insert(D), rows)
    return len(rows)


# --- the one-sender lease -------------------------------------------------------------


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _wall() -> datetime:
    return datetime.now(UTC)


def acquire_lock(store: Store, edition_id: int, owner: str) -> None:
    """Take the edition's lease, or raise EditionLocked naming who holds it.

    A lease held by a process on this host that no longer exists (killed) is taken over
    at once instead of waiting for it to expire.
    """
    with store.session() as session:
        now = _wall()
        taken = session.execute(
            update(E)
            .where(
                E.c.id == edition_id,
                or_(E.c.lock_owner.is_(None), E.c.lock_owner == owner, E.c.lock_expires < now),
            )
            .values(lock_owner=owner, lock_expires=now + LEASE)
        ).rowcount  # type: ignore[attr-defined]
        if taken:
            return
        holder = session.execute(
            select(E.c.lock_owner, E.c.lock_expires).where(E.c.id == edition_id)
        ).one()
        if holder.lock_owner and _owner_is_dead(holder.lock_owner):
            session.execute(
                update(E)
                .where(E.c.id == edition_id, E.c.lock_owner == holder.lock_owner)
                .values(lock_owner=owner, lock_expires=now + LEASE)
            )
            return
    raise EditionLocked(
        f"edition {edition_id} is being sent by {holder.lock_owner} "
        f"(lease until {holder.lock_expires:%Y-%m-%d %H:%M:%S} UTC)"
    )


def _owner_is_dead(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def renew_lock(session: Session, edition_id: int, owner: str) -> None:
    renewed = session.execute(
        update(E)
        .where(E.c.id == edition_id, E.c.lock_owner == owner)
        .values(lock_expires=_wall() + LEASE)
    ).rowcount  # type: ignore[attr-defined]
    if not renewed:
        raise EditionLocked(f"edition {edition_id}: the sending lease was lost; stopping")


def release_lock(store: Store, edition_id: int, owner: str) -> None:
    with store.session() as session:
        session.execute(
            update(E)
            .where(E.c.id == edition_id, E.c.lock_owner == owner)
            .values(lock_owner=None, lock_expires=None)
        )


# --- claiming and recording -----------------------------------------------------------


def recover_in_flight(session: Session, edition_id: int) -> int:
    """Rows a killed sender left in 'sending' go back to pending (the in-flight window)."""
    result = session.execute(
        update(D)
        .where(D.c.edition_id == edition_id, D.c.status == "sending")
        .values(status="pending", next_attempt_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def claim(
    session: Session, edition_id: int, list_name: str, after: int, now: datetime, limit: int
) -> list[Claimed]:
    """The next due pending rows after subscriber ``after``, marked 'sending'."""
    sub = cast(Table, SubscriptionRow.__table__)
    query = (
        select(
            D.c.subscriber_id,
            D.c.email,
            D.c.name,
            D.c.attempts,
            SubscriberRow.status.label("person"),
            sub.c.status.label("subscription"),
            SuppressionRow.email.label("suppressed"),
        )
        .join(SubscriberRow, SubscriberRow.id == D.c.subscriber_id)
        .outerjoin(
            sub, and_(sub.c.subscriber_id == D.c.subscriber_id, sub.c.list_name == list_name)
        )
        .outerjoin(SuppressionRow, SuppressionRow.email == D.c.email)
        .where(
            D.c.edition_id == edition_id,
            D.c.subscriber_id > after,
            D.c.status == "pending",
            or_(D.c.next_attempt_at.is_(None), D.c.next_attempt_at <= now),
        )
        .order_by(D.c.subscriber_id)
        .limit(limit)
    )
    rows = session.execute(query).all()
    if not rows:
        return []
    session.execute(
        update(D)
        .where(D.c.edition_id == edition_id, D.c.subscriber_id.in_([r[0] for r in rows]))
        .values(status="sending", attempts=D.c.attempts + 1)
    )
    return [Claimed(r.subscriber_id, r.email, r.name, r.attempts + 1, _excluded(r)) for r in rows]


def _excluded(row: Any) -> str | None:
    """Changes since the audience was frozen still win: suppression, unsubscribes."""
    if row.suppressed is not None:
        return "address is on the suppression list"
    if row.person != "active":
        return f"subscriber is {row.person}"
    if row.subscription != "confirmed":
        return f"subscription is {row.subscription or 'gone'}"
    return None


def record(
    session: Session,
    edition_id: int,
    outcomes: Iterable[Outcome],
    now: datetime,
    message_id_parts: tuple[str, str] | None = None,
) -> None:
    """Write a batch of outcomes in one transaction.

    With ``message_id_parts`` (prefix, suffix), sent rows whose Message-ID is
    prefix + subscriber id + suffix are written by one UPDATE that builds it in SQL.
    """
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.status, []).append(outcome)
    where = and_(D.c.edition_id == edition_id, D.c.subscriber_id == bindparam("b_sid"))
    if message_id_parts is not None and (sent := groups.get("sent")):
        groups["sent"] = _record_sent_by_pattern(session, edition_id, sent, now, message_id_parts)
    if sent := groups.get("sent"):
        session.execute(
            update(D)
            .where(where)
            .values(status="sent", sent_at=now, message_id=bindparam("b_mid"), last_error=None),
            [{"b_sid": o.subscriber_id, "b_mid": o.message_id} for o in sent],
        )
    for status in ("pending", "failed", "suppressed"):
        if batch := groups.get(status):
            session.execute(
                update(D)
                .where(where)
                .values(
                    status=status,
                    last_error=bindparam("b_err"),
                    next_attempt_at=bindparam("b_at"),
                ),
                [{"b_sid": o.subscriber_id, "b_err": o.error, "b_at": o.retry_at} for o in batch],
            )
    if untouched := groups.get("unattempted"):
        session.execute(
            update(D).where(where).values(status="pending", attempts=D.c.attempts - 1),
            [{"b_sid": o.subscriber_id} for o in untouched],
        )
    for outcome in groups.get("suppressed", []):
        if outcome.error and outcome.error.startswith("5"):  # refused by the server
            suppress(session, outcome.email, "bounced", now, detail=outcome.error)


def _record_sent_by_pattern(
    session: Session, edition_id: int, sent: list[Outcome], now: datetime, parts: tuple[str, str]
) -> list[Outcome]:
    """One UPDATE for the rows whose Message-ID follows the pattern; returns the others."""
    prefix, suffix = parts
    matching: list[int] = []
    others: list[Outcome] = []
    for outcome in sent:
        sid = outcome.subscriber_id
        if outcome.message_id == f"{prefix}{sid}{suffix}":
            matching.append(sid)
        else:
            others.append(outcome)
    if matching:
        message_id = literal(prefix, String) + sql_cast(D.c.subscriber_id, String) + literal(suffix)
        session.execute(
            update(D)
            .where(D.c.edition_id == edition_id, D.c.subscriber_id.in_(matching))
            .values(status="sent", sent_at=now, message_id=message_id, last_error=None)
        )
    return others


def counts(session: Session, edition_id: int) -> dict[str, int]:
    rows = session.execute(
        select(D.c.status, func.count()).where(D.c.edition_id == edition_id).group_by(D.c.status)
    ).all()
    return {status: int(n) for status, n in rows}


def next_due(session: Session, edition_id: int) -> datetime | None:
    """When the earliest deferred row may be tried again; None when nothing is pending."""
    pending = and_(D.c.edition_id == edition_id, D.c.status == "pending")
    due_now = session.execute(
        select(func.count()).where(pending, D.c.next_attempt_at.is_(None))
    ).scalar_one()
    if due_now:
        return datetime.min.replace(tzinfo=UTC)
    earliest: datetime | None = session.execute(
        select(func.min(D.c.next_attempt_at)).where(pending)
    ).scalar_one_or_none()
    if earliest is None:
        return None
    return earliest if earliest.tzinfo else earliest.replace(tzinfo=UTC)
