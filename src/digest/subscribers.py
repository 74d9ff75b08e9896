"""Subscribers and their subscriptions; the suppression list always wins.

A subscriber's status (active, unsubscribed, bounced, complained, suppressed) is separate
from each subscription's status (pending, confirmed, unsubscribed), as in listmonk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.store.tables import SubscriberRow, SubscriptionRow, SuppressionRow


class InvalidAddress(DigestError):
    pass


def normalize_email(raw: str) -> str:
    """Strict address parsing: one address, no CR/LF, domain lower-cased."""
    text = raw.strip()
    if any(ch in text for ch in "\r\n\0") or not text:
        raise InvalidAddress(f"'{raw}' is not a valid email address")
    _, addr = parseaddr(text)
    if addr != text:  # display names, comments and lists are not accepted here
        raise InvalidAddress(f"'{raw}' is not a valid email address")
    local, sep, domain = addr.rpartition("@")
    if not sep or not local or "." not in domain or " " in addr or ".." in domain:
        raise InvalidAddress(f"'{raw}' is not a valid email address")
    try:
        domain = domain.encode("idna").decode("ascii").lower()
        Address(username=local, domain=domain)
    except (UnicodeError, ValueError, IndexError):
        raise InvalidAddress(f"'{raw}' is not a valid email address") from None
    return f"{local}@{domain}"


def is_suppressed(session: Session, email: str) -> bool:
    return session.get(SuppressionRow, email) is not None


def suppress(session: Session, email: str, reason: str, now: datetime, detail: str = "") -> None:
    """Add to the suppression list and mark the subscriber; idempotent."""
    if session.get(SuppressionRow, email) is None:
        session.add(SuppressionRow(email=email, reason=reason, detail=detail, created_at=now))
    row = session.scalars(select(SubscriberRow).where(SubscriberRow.email == email)).first()
    if row is not None:
        row.status = {"bounced": "bounced", "complained": "complained"}.get(reason, "suppressed")
        row.updated_at = now


def add_subscriber(
    session: Session,
    email: str,
    now: datetime,
    *,
    name: str | None = None,
    lists: tuple[str, ...] = (),
    status: str = "confirmed",
    attributes: dict[str, Any] | None = None,
) -> SubscriberRow:
    """Create or update a subscriber and subscribe them to ``lists``.

    A suppressed address is never reactivated here: it stays suppressed, and the
    caller learns it from the returned row's status.
    """
    address = normalize_email(email)
    row = session.scalars(select(SubscriberRow).where(SubscriberRow.email == address)).first()
    if row is None:
        row = SubscriberRow(
            email=address,
            name=name,
            status="active",
            attributes=attributes or {},
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
    else:
        row.name = name or row.name
        row.attributes = {**row.attributes, **(attributes or {})}
        row.updated_at = now
    if is_suppressed(session, address):
        row.status = row.status if row.status != "active" else "suppressed"
        return row
    for list_name in lists:
        subscribe(session, row.id, list_name, now, status=status)
    return row


def subscribe(
    session: Session, subscriber_id: int, list_name: str, now: datetime, status: str = "confirmed"
) -> SubscriptionRow:
    sub = session.get(SubscriptionRow, (subscriber_id, list_name))
    if sub is None:
        sub = SubscriptionRow(
            subscriber_id=subscriber_id, list_name=list_name, status=status, created_at=now
        )
        session.add(sub)
    elif sub.status != "confirmed" or status == "confirmed":
        sub.status = status
        sub.unsubscribed_at = None
    if status == "confirmed" and sub.confirmed_at is None:
        sub.confirmed_at = now
    return sub


def unsubscribe(session: Session, subscriber_id: int, list_name: str | None, now: datetime) -> int:
    """Unsubscribe from one list, or from every list when ``list_name`` is None; idempotent.

    Returns how many subscriptions changed.
    """
    query = select(SubscriptionRow).where(SubscriptionRow.subscriber_id == subscriber_id)
    if list_name is not None:
        query = query.where(SubscriptionRow.list_name == list_name)
    changed = 0
    for sub in session.scalars(query):
        if sub.status != "unsubscribed":
            sub.status = "unsubscribed"
            sub.unsubscribed_at = now
            changed += 1
    return changed


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    name: str | None


def confirmed_audience(session: Session, list_name: str, now: datetime) -> Iterator[Recipient]:
    """Active, unsuppressed subscribers with a confirmed, unpaused subscription to the list."""
    query = (
        select(SubscriberRow.id, SubscriberRow.email, SubscriberRow.name)
        .join(SubscriptionRow, SubscriptionRow.subscriber_id == SubscriberRow.id)
        .outerjoin(SuppressionRow, SuppressionRow.email == SubscriberRow.email)
        .where(
            SubscriptionRow.list_name == list_name,
            SubscriptionRow.status == "confirmed",
            SubscriberRow.status == "active",
            SuppressionRow.email.is_(None),
            (SubscriptionRow.paused_until.is_(None)) | (SubscriptionRow.paused_until <= now),
        )
        .order_by(SubscriberRow.id)
    )
    for row in session.execute(query).yield_per(5000):
        yield Recipient(row.id, row.email, row.name)
