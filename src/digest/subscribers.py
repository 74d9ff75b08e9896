"""Subscribers and their subscriptions; the suppression list always wins.

A subscriber's status (active, unsubscribed, bounced, complained, suppressed) is separate
from each subscription's status (pending, confirmed, unsubscribed), as in listmonk.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.store.tables import SubscriberRow, SubscriptionRow, SuppressionRow


class InvalidAddress(DigestError):
    pass


def normalize_email(raw: str) -> str:
    """Strict address parsing: one address, no CR/LF, lower-cased."""
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
    # Local parts are case-sensitive on paper but not at any real provider; folding them
    # keeps ANA@x and ana@x from becoming two subscribers (listmonk does the same).
    return f"{local.lower()}@{domain}"


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


# --- CSV import and export ----------------------------------------------------------

EMAIL_COLUMNS = ("email", "e-mail", "email address", "email_address", "mail")
NAME_COLUMNS = ("name", "full name", "full_name")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ImportResult:
    """What an import did; every input row lands in exactly one bucket."""

    added: int = 0
    updated: int = 0
    duplicates: int = 0  # the same normalized address earlier in the file
    suppressed: list[tuple[int, str]] = field(default_factory=list)  # (line, address)
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line, problem)

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.duplicates} duplicate rows "
            f"merged, {len(self.suppressed)} suppressed (not subscribed), "
            f"{len(self.invalid)} invalid rows skipped"
        )

    @property
    def rows(self) -> int:
        return (
            self.added + self.updated + self.duplicates + len(self.suppressed) + len(self.invalid)
        )


def _pick(
    header: list[str], wanted: str | None, defaults: tuple[str, ...], what: str
) -> int | None:
    lowered = [h.strip().lower() for h in header]
    if wanted is not None:
        if wanted.strip().lower() not in lowered:
            raise DigestError(f"CSV has no column '{wanted}' for {what} (columns: {header})")
        return lowered.index(wanted.strip().lower())
    for name in defaults:
        if name in lowered:
            return lowered.index(name)
    return None


def import_csv(
    session: Session,
    source: Path | Iterable[str],
    list_name: str | None = None,
    now: datetime | None = None,
    *,
    email_column: str | None = None,
    name_column: str | None = None,
    attribute_columns: dict[str, str] | None = None,
    status: str = "confirmed",
) -> ImportResult:
    """Import subscribers from CSV; bad rows are reported by line and skipped.

    Without ``list_name`` each row names its lists in a ``lists`` column (``a;b``).
    ``attribute_columns`` maps CSV column → attribute name; without it every other
    column becomes an attribute under its own (lower-cased) name.
    """
    if isinstance(source, Path):
        try:
            with source.open(encoding="utf-8-sig", newline="") as stream:
                return import_csv(
                    session,
                    stream,
                    list_name,
                    now,
                    email_column=email_column,
                    name_column=name_column,
                    attribute_columns=attribute_columns,
                    status=status,
                )
        except OSError as exc:
            raise DigestError(f"{source}: {exc.strerror}") from None
    reader = csv.reader(source)
    try:
        header = next(reader)
    except StopIteration:
        raise DigestError("the CSV file is empty") from None
    email_at = _pick(header, email_column, EMAIL_COLUMNS, "the email address")
    if email_at is None:
        raise DigestError(f"CSV has no email column (columns: {header}); name it with --email")
    name_at = _pick(header, name_column, NAME_COLUMNS, "the name")
    lists_at = _pick(header, None, ("lists", "list"), "the lists")
    if list_name is None and lists_at is None:
        raise DigestError(f"CSV has no 'lists' column (columns: {header}); give a list name")
    attrs = _attribute_map(header, attribute_columns, {email_at, name_at, lists_at})
    result = ImportResult()
    seen: set[str] = set()
    when = now or datetime.now(UTC)
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if list_name is not None:
            lists: tuple[str, ...] = (list_name,)
        else:
            assert lists_at is not None
            cell = row[lists_at] if lists_at < len(row) else ""
            lists = tuple(n.strip() for n in cell.split(";") if n.strip())
            if not lists:
                result.invalid.append((line, "no list named in the 'lists' column"))
                continue
        _import_row(
            session, row, line, lists, when, status, (email_at, name_at, attrs), seen, result
        )
    return result


def _attribute_map(
    header: list[str], mapping: dict[str, str] | None, used: set[int | None]
) -> dict[int, str]:
    lowered = [h.strip().lower() for h in header]
    if mapping is None:
        return {i: lowered[i] for i in range(len(header)) if i not in used and lowered[i]}
    out: dict[int, str] = {}
    for column, attribute in mapping.items():
        if column.strip().lower() not in lowered:
            raise DigestError(f"CSV has no column '{column}' (columns: {header})")
        out[lowered.index(column.strip().lower())] = attribute
    return out


def _import_row(
    session: Session,
    row: list[str],
    line: int,
    lists: tuple[str, ...],
    now: datetime,
    status: str,
    columns: tuple[int, int | None, dict[int, str]],
    seen: set[str],
    result: ImportResult,
) -> None:
    email_at, name_at, attrs = columns
    raw = row[email_at] if email_at < len(row) else ""
    try:
        address = normalize_email(raw)
    except InvalidAddress as exc:
        result.invalid.append((line, str(exc)))
        return
    if address in seen:
        result.duplicates += 1
        return
    seen.add(address)
    name = row[name_at].strip() if name_at is not None and name_at < len(row) else None
    if name and any(ch in name for ch in "\r\n\0"):
        result.invalid.append((line, "the name holds a line break"))
        return
    if is_suppressed(session, address):
        result.suppressed.append((line, address))
        return
    exists = session.scalars(select(SubscriberRow.id).where(SubscriberRow.email == address)).first()
    attributes = {key: row[i].strip() for i, key in attrs.items() if i < len(row) and row[i]}
    add_subscriber(
        session,
        address,
        now,
        name=name or None,
        lists=lists,
        status=status,
        attributes=attributes,
    )
    if exists is None:
        result.added += 1
    else:
        result.updated += 1


def neutralize_formula(value: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: prefix a quote (OWASP)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def export_csv(session: Session, out: TextIO, list_name: str | None = None) -> int:
    """Write subscribers (of one list, or all) as CSV; returns the number of rows."""
    query = select(SubscriberRow).order_by(SubscriberRow.id)
    if list_name is not None:
        query = query.join(
            SubscriptionRow, SubscriptionRow.subscriber_id == SubscriberRow.id
        ).where(SubscriptionRow.list_name == list_name)
    writer = csv.writer(out)
    writer.writerow(["email", "name", "status", "lists", "attributes", "created_at"])
    count = 0
    for row in session.scalars(query).yield_per(2000):
        subs = session.scalars(
            select(SubscriptionRow).where(SubscriptionRow.subscriber_id == row.id)
        ).all()
        lists = ";".join(f"{s.list_name}:{s.status}" for s in subs)
        cells = [
            row.email,
            row.name or "",
            row.status,
            lists,
            json.dumps(row.attributes, ensure_ascii=False, sort_keys=True),
            row.created_at.isoformat(),
        ]
        writer.writerow([neutralize_formula(c) for c in cells])
        count += 1
    return count


def remove_subscriber(session: Session, email: str, now: datetime, list_name: str | None) -> bool:
    """Unsubscribe from one list or all (rows stay: the ledger and consent refer to them)."""
    address = normalize_email(email)
    row = session.scalars(select(SubscriberRow).where(SubscriberRow.email == address)).first()
    if row is None:
        return False
    unsubscribe(session, row.id, list_name, now)
    if list_name is None and row.status == "active":
        row.status = "unsubscribed"
        row.updated_at = now
    return True


def list_subscribers(
    session: Session, list_name: str | None = None, status: str | None = None
) -> Iterator[tuple[SubscriberRow, str]]:
    """(subscriber, 'list:status;…') pairs for display."""
    query = select(SubscriberRow).order_by(SubscriberRow.id)
    if list_name is not None:
        query = query.join(
            SubscriptionRow, SubscriptionRow.subscriber_id == SubscriberRow.id
        ).where(SubscriptionRow.list_name == list_name)
    if status is not None:
        query = query.where(SubscriberRow.status == status)
    for row in session.scalars(query):
        subs = session.scalars(
            select(SubscriptionRow).where(SubscriptionRow.subscriber_id == row.id)
        ).all()
        yield row, ";".join(f"{s.list_name}:{s.status}" for s in subs)
