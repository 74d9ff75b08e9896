"""The delivery ledger: one row per (edition, subscriber), each copy claimed on its own.

pending → sending (claimed by one worker under a lease, committed right before its SMTP
transaction) → sent (recorded right after the answer) | failed | suppressed. A temporary
answer puts the row back to pending with ``next_attempt_at`` (backoff); only a permanent
answer for that recipient or the edition's deadline (``editions.deliver_until``) ends a
delivery. A worker holds at most one claim per connection, so a crash resends at most
the copies that were in flight, never a batch; a claim whose owner died is released
(at once on this host, after its lease elsewhere) without counting an attempt.

Workers share an edition: claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (and the
write lock SQLite takes at BEGIN IMMEDIATE), so each row goes to exactly one worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Connection,
    Select,
    String,
    Table,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from digest.store import lease
from digest.store.tables import (
    DeliveryRow,
    EditionRow,
    SubscriberRow,
    SubscriptionRow,
    SuppressionRow,
    UTCDateTime,
)
from digest.subscribers import confirmed_audience, suppress

D = cast(Table, DeliveryRow.__table__)
E = cast(Table, EditionRow.__table__)
INSERT_CHUNK = 5000
Db = Session | Connection  # the send loop's hot path uses a plain Connection
DEFAULT_DEADLINE = timedelta(days=3)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due now, or deferred until next_attempt_at
    SENDING = "sending"  # claimed: one worker is sending it right now
    SENT = "sent"
    FAILED = "failed"  # permanently refused, or not delivered by the deadline
    SUPPRESSED = "suppressed"  # never to be mailed (mailbox gone, unsubscribed since)


PENDING, SENDING, SENT = DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT
FAILED, SUPPRESSED = DeliveryStatus.FAILED, DeliveryStatus.SUPPRESSED
UNSETTLED = (PENDING.value, SENDING.value)


class Claimed(NamedTuple):  # a tuple: built per row, cheaper than a frozen dataclass
    subscriber_id: int
    email: str
    name: str | None
    attempts: int  # server answers so far
    excluded: str | None  # why this row must not be sent after all (unsubscribed since)


class Outcome(NamedTuple):
    subscriber_id: int
    email: str
    status: str  # a DeliveryStatus, or "unattempted" (back to pending, nothing counted)
    answered: bool = False  # a real server answer: counts as an attempt
    message_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None


def freeze_audience(
    session: Session,
    edition: EditionRow,
    list_name: str,
    now: datetime,
    deadline: timedelta = DEFAULT_DEADLINE,
) -> int:
    """Write the ledger rows once, when sending starts; later calls change nothing."""
    if edition.send_started_at is not None or edition.status in ("sending", "sent", "paused"):
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
                "status": PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
            }
        )
        if len(chunk) >= INSERT_CHUNK:
            count += _insert(session, chunk)
            chunk = []
    count += _insert(session, chunk)
    edition.send_started_at = now
    edition.deliver_until = now + deadline
    from digest import lifecycle

    lifecycle.transition(session, edition, lifecycle.EditionStatus.SENDING, actor="sender", now=now)
    return count


def _insert(session: Session, rows: list[dict[str, Any]]) -> int:
    if rows:
        session.execute(insert(D), rows)
    return len(rows)


# --- claims ---------------------------------------------------------------------------


def release_abandoned(session: Session, edition_id: int, now: datetime) -> int:
    """Claims whose owner is gone (killed on this host) or whose lease ran out → pending.

    Nothing is counted: a crash is not a server answer.
    """
    in_flight = and_(D.c.edition_id == edition_id, D.c.status == SENDING.value)
    owners = session.execute(select(D.c.claimed_by).where(in_flight).distinct()).scalars()
    gone = [owner for owner in owners if owner is None or lease.owner_is_gone(owner)]
    released = 0
    for condition in (
        D.c.claim_expires < now,
        D.c.claimed_by.in_([o for o in gone if o is not None]),
        D.c.claimed_by.is_(None),
    ):
        result = session.execute(
            update(D)
            .where(in_flight, condition)
            .values(status=PENDING.value, claimed_by=None, claim_expires=None)
        )
        released += int(result.rowcount)  # type: ignore[attr-defined]
    return released


def _claim_select(limit: int) -> Select[Any]:
    sub = cast(Table, SubscriptionRow.__table__)
    return (
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
            sub,
            and_(sub.c.subscriber_id == D.c.subscriber_id, sub.c.list_name == bindparam("lst")),
        )
        .outerjoin(SuppressionRow, SuppressionRow.email == D.c.email)
        .where(
            D.c.edition_id == bindparam("eid"),
            D.c.status == PENDING.value,
            D.c.next_attempt_at <= bindparam("now", type_=UTCDateTime()),
        )
        .order_by(D.c.next_attempt_at)
        .limit(limit)
        .with_for_update(of=D, skip_locked=True)  # PostgreSQL; SQLite holds the write lock
    )


# Built once: the send loop runs these for every few copies, and building a statement
# costs more than running it.
_CLAIM_SELECTS: dict[int, Select[Any]] = {}
_CLAIM_UPDATE = (
    update(D)
    .where(
        D.c.edition_id == bindparam("eid"),
        D.c.subscriber_id.in_(bindparam("sids", expanding=True)),
    )
    .values(
        status=SENDING.value,
        claimed_by=bindparam("owner"),
        claim_expires=bindparam("until", type_=UTCDateTime()),
    )
)


def claim(
    session: Db,
    edition_id: int,
    list_name: str,
    owner: str,
    now: datetime,
    limit: int,
    hold: timedelta,
) -> list[Claimed]:
    """Up to ``limit`` due pending rows, marked 'sending' for ``owner`` until now + hold."""
    if limit <= 0:
        return []
    query = _CLAIM_SELECTS.get(limit)
    if query is None:
        query = _CLAIM_SELECTS.setdefault(limit, _claim_select(limit))
    rows = session.execute(query, {"eid": edition_id, "lst": list_name, "now": now}).all()
    if not rows:
        return []
    session.execute(
        _CLAIM_UPDATE,
        {"eid": edition_id, "sids": [r[0] for r in rows], "owner": owner, "until": now + hold},
    )
    return [Claimed(r.subscriber_id, r.email, r.name, r.attempts, _excluded(r)) for r in rows]


def _excluded(row: Any) -> str | None:
    """Changes since the audience was frozen still win: suppression, unsubscribes."""
    if row.suppressed is not None:
        return "address is on the suppression list"
    if row.person != "active":
        return f"subscriber is {row.person}"
    if row.subscription != "confirmed":
        return f"subscription is {row.subscription or 'gone'}"
    return None


def release_claims(session: Session, edition_id: int, owner: str) -> int:
    """Give back every claim of ``owner`` untouched (a clean stop or an error)."""
    result = session.execute(
        update(D)
        .where(D.c.edition_id == edition_id, D.c.claimed_by == owner, D.c.status == SENDING.value)
        .values(status=PENDING.value, claimed_by=None, claim_expires=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def expire_overdue(session: Session, edition_id: int, now: datetime) -> int:
    """Past the edition's deadline, deferred rows are failed for good (with their last error)."""
    deadline = session.execute(select(E.c.deliver_until).where(E.c.id == edition_id)).scalar()
    if deadline is None or now < deadline:
        return 0
    result = session.execute(
        update(D)
        .where(D.c.edition_id == edition_id, D.c.status == PENDING.value)
        .values(
            status=FAILED.value,
            last_error=literal("not delivered by the deadline; last answer: ", String)
            + func.coalesce(D.c.last_error, literal("none", String)),
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- recording ------------------------------------------------------------------------


_MINE = and_(D.c.edition_id == bindparam("eid"), D.c.claimed_by == bindparam("owner"))
_ONE = and_(_MINE, D.c.subscriber_id == bindparam("sid"))
_FREE = {"claimed_by": None, "claim_expires": None}
_NOW = bindparam("now", type_=UTCDateTime())


def _attempts(answered: bool) -> Any:
    return D.c.attempts + 1 if answered else D.c.attempts


_RECORD_SENT = {
    answered: update(D)
    .where(_ONE)
    .values(
        status=SENT.value,
        sent_at=_NOW,
        message_id=bindparam("mid"),
        last_error=None,
        attempts=_attempts(answered),
        **_FREE,
    )
    for answered in (False, True)
}
_RECORD_SENT_PATTERN = (
    update(D)
    .where(_MINE, D.c.subscriber_id.in_(bindparam("sids", expanding=True)))
    .values(
        status=SENT.value,
        sent_at=_NOW,
        message_id=bindparam("prefix", type_=String())
        + sql_cast(D.c.subscriber_id, String)
        + bindparam("suffix", type_=String()),
        last_error=None,
        attempts=D.c.attempts + 1,
        **_FREE,
    )
)
_RECORD_OTHER = {
    answered: update(D)
    .where(_ONE)
    .values(
        status=bindparam("status"),
        last_error=bindparam("err"),
        next_attempt_at=bindparam("at", type_=UTCDateTime()),
        attempts=_attempts(answered),
        **_FREE,
    )
    for answered in (False, True)
}
_RECORD_UNATTEMPTED = update(D).where(_ONE).values(status=PENDING.value, **_FREE)


def record(
    session: Db,
    edition_id: int,
    owner: str,
    outcomes: Iterable[Outcome],
    now: datetime,
    message_id_parts: tuple[str, str] | None = None,
) -> None:
    """Write outcomes of ``owner``'s claims in one transaction, ending the claims.

    With ``message_id_parts`` (prefix, suffix), sent rows whose Message-ID is
    prefix + subscriber id + suffix are written by one UPDATE that builds it in SQL.
    """
    groups: dict[tuple[str, bool], list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault((outcome.status, outcome.answered), []).append(outcome)
    mine = {"eid": edition_id, "owner": owner, "now": now}
    for (status, answered), batch in groups.items():
        if status == SENT:
            if message_id_parts is not None and answered:
                batch = _record_sent_by_pattern(session, mine, batch, message_id_parts)
            if batch:
                session.execute(
                    _RECORD_SENT[answered],
                    [{**mine, "sid": o.subscriber_id, "mid": o.message_id} for o in batch],
                )
        elif status == "unattempted":
            session.execute(_RECORD_UNATTEMPTED, [{**mine, "sid": o.subscriber_id} for o in batch])
        else:
            session.execute(
                _RECORD_OTHER[answered],
                [
                    {
                        **mine,
                        "sid": o.subscriber_id,
                        "status": status,
                        "err": o.error,
                        "at": o.retry_at or now,
                    }
                    for o in batch
                ],
            )
    bounced = [o for o in groups.get((SUPPRESSED.value, True), []) if (o.error or "")[:1] == "5"]
    if bounced:  # refused by the server: on the suppression list for good
        orm = session if isinstance(session, Session) else Session(bind=session)
        for outcome in bounced:
            suppress(orm, outcome.email, "bounced", now, detail=outcome.error or "")
        orm.flush()


def _record_sent_by_pattern(
    session: Db, mine: dict[str, Any], sent: list[Outcome], parts: tuple[str, str]
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
        session.execute(
            _RECORD_SENT_PATTERN, {**mine, "sids": matching, "prefix": prefix, "suffix": suffix}
        )
    return others


# --- reading --------------------------------------------------------------------------


def counts(session: Session, edition_id: int) -> dict[str, int]:
    rows = session.execute(
        select(D.c.status, func.count()).where(D.c.edition_id == edition_id).group_by(D.c.status)
    ).all()
    return {status: int(n) for status, n in rows}


def next_due(session: Session, edition_id: int) -> datetime | None:
    """When the earliest pending row may be tried; None when nothing is pending."""
    earliest: datetime | None = session.execute(
        select(func.min(D.c.next_attempt_at)).where(
            D.c.edition_id == edition_id, D.c.status == PENDING.value
        )
    ).scalar_one_or_none()
    if earliest is None:
        return None
    return earliest if earliest.tzinfo else earliest.replace(tzinfo=UTC)


def in_flight_elsewhere(session: Session, edition_id: int, owner: str) -> int:
    """Rows other workers hold right now."""
    return int(
        session.execute(
            select(func.count()).where(
                D.c.edition_id == edition_id,
                D.c.status == SENDING.value,
                D.c.claimed_by != owner,
            )
        ).scalar_one()
    )
