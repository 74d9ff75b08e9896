"""The edition's life: one typed state machine, every transition recorded.

    draft ──approve──► approved ──start──► sending ──finish──► sent
      ▲  ╲                │  ╲               │ ▲
      │   hold            edit hold        pause resume
      │     ╲             │     ╲            ▼ │
      └─edit── held ◄─────┘      held        paused
    draft / approved / held ──cancel──► cancelled

Nothing else writes ``editions.status``: the pipeline, approval, the sender, the desk and
the CLI all call :func:`transition` (which refuses an illegal move with a message naming
the edition, its state and what is possible) and :func:`record` for edits, so the
``edition_events`` table is the edition's whole history: who, what, when.
``actor`` is a plain string ("cli:ana", "desk:ana@example.org", "schedule", "sender").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.store import Store
from digest.store.tables import EditionEventRow, EditionRow


class EditionStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"
    PAUSED = "paused"  # sending stopped by the mail server's answer; resumed by a send
    SENT = "sent"
    HELD = "held"
    CANCELLED = "cancelled"


S = EditionStatus

# (from, to) → the action's name, as recorded in the history.
TRANSITIONS: dict[tuple[EditionStatus, EditionStatus], str] = {
    (S.DRAFT, S.APPROVED): "approve",
    (S.HELD, S.APPROVED): "approve",
    (S.APPROVED, S.APPROVED): "approve",  # approve again: re-freeze (harmless)
    (S.DRAFT, S.HELD): "hold",
    (S.APPROVED, S.HELD): "hold",
    (S.HELD, S.HELD): "hold",
    (S.APPROVED, S.DRAFT): "reopen",  # edited after approval: approval needed again
    (S.HELD, S.DRAFT): "reopen",
    (S.APPROVED, S.SENDING): "start_sending",
    (S.SENDING, S.PAUSED): "pause",
    (S.PAUSED, S.SENDING): "resume",
    (S.SENDING, S.SENT): "finish",
    (S.DRAFT, S.CANCELLED): "cancel",
    (S.APPROVED, S.CANCELLED): "cancel",
    (S.HELD, S.CANCELLED): "cancel",
}

EDITABLE = frozenset({S.DRAFT, S.APPROVED, S.HELD})
# Sending has started (or the edition is gone): what subscribers get cannot change.
STARTED = frozenset({S.SENDING, S.PAUSED, S.SENT})
WAITING = frozenset({S.DRAFT, S.HELD})  # not to be sent or published yet


class LifecycleError(DigestError):
    """An illegal transition or an edit the edition's state does not allow."""


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    detail: str


def status_of(row: EditionRow) -> EditionStatus:
    try:
        return EditionStatus(row.status)
    except ValueError:
        raise LifecycleError(f"edition {row.id} has an unknown status '{row.status}'") from None


def allowed_from(status: EditionStatus) -> list[str]:
    return sorted({to.value for (frm, to) in TRANSITIONS if frm is status})


def describe(row: EditionRow) -> str:
    return f"edition {row.id} of '{row.newsletter}' ({row.period_key})"


def transition(
    session: Session,
    row: EditionRow,
    to: EditionStatus,
    *,
    actor: str,
    now: datetime,
    detail: str = "",
) -> str:
    """Move the edition to ``to`` and record it; raise LifecycleError if not allowed."""
    current = status_of(row)
    action = TRANSITIONS.get((current, to))
    if action is None:
        possible = ", ".join(allowed_from(current)) or "nothing (it is final)"
        raise LifecycleError(
            f"{describe(row)} is already {current.value}; it cannot become {to.value} "
            f"(from {current.value} it can become: {possible})"
        )
    row.status = to.value
    if to is S.APPROVED:
        row.approved_by, row.approved_at = actor, now
    if to is S.SENT:
        row.sent_at = now
    record(session, row, action, actor=actor, now=now, detail=detail, frm=current, to=to)
    return action


def record(
    session: Session,
    row: EditionRow,
    action: str,
    *,
    actor: str,
    now: datetime,
    detail: str = "",
    frm: EditionStatus | None = None,
    to: EditionStatus | None = None,
) -> None:
    """Add one line to the edition's history (an edit, or a transition's record)."""
    session.add(
        EditionEventRow(
            edition_id=row.id,
            at=now,
            actor=actor,
            action=action,
            from_status=frm.value if frm else None,
            to_status=to.value if to else None,
            detail=detail,
        )
    )


def check_editable(row: EditionRow) -> None:
    """Refuse an edit once sending has started (or the edition was cancelled), saying why."""
    current = status_of(row)
    if current in STARTED:
        raise LifecycleError(
            f"{describe(row)} is {current.value}: sending has started, so what subscribers "
            "get can no longer change"
        )
    if current is S.CANCELLED:
        raise LifecycleError(f"{describe(row)} was cancelled; it cannot be edited")


def reopen_if_approved(session: Session, row: EditionRow, *, actor: str, now: datetime) -> bool:
    """An edit of an approved (or held) edition returns it to draft: approval needed again."""
    if status_of(row) in (S.APPROVED, S.HELD):
        transition(session, row, S.DRAFT, actor=actor, now=now, detail="edited; approve again")
        row.fingerprint = None
        return True
    return False


def history(store: Store, edition_id: int) -> list[HistoryEntry]:
    """The edition's history, oldest first."""
    query = (
        select(EditionEventRow)
        .where(EditionEventRow.edition_id == edition_id)
        .order_by(EditionEventRow.id)
    )
    with store.session() as session:
        return [
            HistoryEntry(r.at, r.actor, r.action, r.from_status, r.to_status, r.detail)
            for r in session.scalars(query)
        ]


def current_status(store: Store, edition_id: int) -> EditionStatus | None:
    with store.session() as session:
        value = session.scalar(select(EditionRow.status).where(EditionRow.id == edition_id))
    return EditionStatus(value) if value is not None else None
