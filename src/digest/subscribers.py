"""Subscribers and their subscriptions; the suppression list always wins.

A subscriber's status (active, unsubscribed, bounced, complained, suppressed) is separate
from each subscription's status (pending, confirmed, unsubscribed), as in listmonk.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.store.tables import SubscriberRow, SubscriptionRow, SuppressionRow

# Core tables for the bulk import (the ORM's bulk paths spend more per row than SQLite)
SUBSCRIBERS: Table = SubscriberRow.__table__  # type: ignore[assignment]
SUBSCRIPTIONS: Table = SubscriptionRow.__table__  # type: ignore[assignment]


class InvalidAddress(DigestError):
    pass


# A plain ASCII dot-atom address, which the strict parse below accepts unchanged but
# for case (tests/security/test_subscriber_import.py checks the two agree): most rows of
# an import are like this, and parseaddr costs ~0.5 ms each.
PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)


def normalize_email(raw: str) -> str:
    """Strict address parsing: one address, no CR/LF, lower-cased."""
    text = raw.strip()
    if PLAIN_ADDRESS.fullmatch(text):
        return text.lower()
    return strict_normalize_email(text, raw)


def strict_normalize_email(text: str, raw: str) -> str:
    """The full check (``text`` is ``raw`` stripped)."""
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
        text = (
            f"{self.added} added, {self.updated} updated, {self.duplicates} duplicate rows "
            f"merged, {len(self.suppressed)} suppressed (not subscribed), "
            f"{len(self.invalid)} invalid rows skipped"
        )
        if self.invalid:
            lines = ", ".join(str(line) for line, _ in self.invalid[:10])
            more = f" and {len(self.invalid) - 10} more" if len(self.invalid) > 10 else ""
            text += f" (line{'s' if len(self.invalid) > 1 else ''} {lines}{more})"
        return text

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


# An import is read and written in batches: a few queries per batch, never one per row,
# and nothing kept per row but a 64-bit hash of each address seen (for duplicates).
IMPORT_BATCH = 2000
MAX_FIELD_BYTES = 64 * 1024  # one cell; Python's csv default is 128 KB
MAX_RECORD_LINES = 20  # a record spanning more lines is an unterminated quote
MAX_IMPORT_ROWS = 5_000_000


@dataclass(frozen=True)
class _Row:
    line: int
    email: str
    name: str | None
    lists: tuple[str, ...]
    attributes: dict[str, str]


@dataclass(frozen=True)
class _Columns:
    email: int
    name: int | None
    lists: int | None
    attrs: dict[int, str]


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
    max_rows: int = MAX_IMPORT_ROWS,
) -> ImportResult:
    """Import subscribers from CSV; bad rows are reported by line and skipped.

    Without ``list_name`` each row names its lists in a ``lists`` column (``a;b``).
    ``attribute_columns`` maps CSV column → attribute name; without it every other
    column becomes an attribute under its own (lower-cased) name. A file that is not
    UTF-8 is read as Windows-1252 (what spreadsheets on Windows save); an unterminated
    quote, an oversized cell or more than ``max_rows`` rows stop the import with an error
    naming the line, before anything is written (the caller's transaction rolls back).
    """
    if isinstance(source, Path):
        try:
            with open_csv(source) as stream:
                return import_csv(
                    session,
                    stream,
                    list_name,
                    now,
                    email_column=email_column,
                    name_column=name_column,
                    attribute_columns=attribute_columns,
                    status=status,
                    max_rows=max_rows,
                )
        except OSError as exc:
            raise DigestError(f"{source}: {exc.strerror}") from None
    csv.field_size_limit(MAX_FIELD_BYTES)
    reader = csv.reader(source, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise DigestError("the CSV file is empty") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DigestError(f"line 1: {_csv_problem(exc)}") from None
    columns = _columns(header, list_name, email_column, name_column, attribute_columns)
    result = ImportResult()
    seen: set[int] = set()
    when = now or datetime.now(UTC)
    batch: list[_Row] = []
    for row in _records(reader, max_rows):
        parsed = _parse_row(row, reader.line_num, list_name, columns, result)
        if parsed is not None:
            batch.append(parsed)
        if len(batch) >= IMPORT_BATCH:
            _import_batch(session, batch, when, status, seen, result)
            batch = []
    if batch:
        _import_batch(session, batch, when, status, seen, result)
    return result


def open_csv(path: Path) -> TextIO:
    """``path`` opened as text: UTF-8 (with or without BOM) if it is, else Windows-1252."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as raw:
        try:
            while chunk := raw.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            encoding = "utf-8-sig"
        except UnicodeDecodeError:
            encoding = "cp1252"
    return path.open(encoding=encoding, errors="replace", newline="")


def _csv_problem(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not UTF-8 text; save it as CSV UTF-8 (or give the file itself)"
    text = str(exc)
    if "field larger" in text:
        return f"a cell is over {MAX_FIELD_BYTES // 1024} KB; is this a subscriber list?"
    if "unexpected end of data" in text or "EOF" in text:
        return "a quoted cell is never closed (an unterminated quote); nothing was imported"
    return f"not valid CSV: {text}"


def _records(reader: Any, max_rows: int) -> Iterator[list[str]]:
    """The reader's records; malformed CSV raises DigestError naming the line."""
    count = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DigestError(f"line {start}: {_csv_problem(exc)}") from None
        if reader.line_num - start >= MAX_RECORD_LINES:
            raise DigestError(
                f"line {start}: a quoted cell runs on for {reader.line_num - start + 1} lines "
                "(an unterminated quote?); nothing was imported"
            )
        count += 1
        if count > max_rows:
            raise DigestError(f"more than {max_rows} rows; split the file (nothing imported)")
        yield row


def _columns(
    header: list[str],
    list_name: str | None,
    email_column: str | None,
    name_column: str | None,
    attribute_columns: dict[str, str] | None,
) -> _Columns:
    email_at = _pick(header, email_column, EMAIL_COLUMNS, "the email address")
    if email_at is None:
        raise DigestError(f"CSV has no email column (columns: {header}); name it with --email")
    name_at = _pick(header, name_column, NAME_COLUMNS, "the name")
    lists_at = _pick(header, None, ("lists", "list"), "the lists")
    if list_name is None and lists_at is None:
        raise DigestError(f"CSV has no 'lists' column (columns: {header}); give a list name")
    attrs = _attribute_map(header, attribute_columns, {email_at, name_at, lists_at})
    return _Columns(email_at, name_at, lists_at, attrs)


def _parse_row(
    row: list[str], line: int, list_name: str | None, columns: _Columns, result: ImportResult
) -> _Row | None:
    if not any(cell.strip() for cell in row):
        return None
    if list_name is not None:
        lists: tuple[str, ...] = (list_name,)
    else:
        assert columns.lists is not None
        cell = row[columns.lists] if columns.lists < len(row) else ""
        lists = tuple(n.strip() for n in cell.split(";") if n.strip())
        if not lists:
            result.invalid.append((line, "no list named in the 'lists' column"))
            return None
    raw = row[columns.email] if columns.email < len(row) else ""
    try:
        address = normalize_email(raw)
    except InvalidAddress as exc:
        result.invalid.append((line, str(exc)))
        return None
    at = columns.name
    name = row[at].strip() if at is not None and at < len(row) else None
    if name and any(ch in name for ch in "\r\n\0"):
        result.invalid.append((line, "the name holds a line break"))
        return None
    attributes = {
        key: row[i].strip() for i, key in columns.attrs.items() if i < len(row) and row[i]
    }
    return _Row(line, address, name or None, lists, attributes)


def _import_batch(
    session: Session,
    batch: list[_Row],
    now: datetime,
    status: str,
    seen: set[int],
    result: ImportResult,
) -> None:
    """One batch: suppressions, existing people and their subscriptions read in three
    queries; new people inserted, known ones updated, subscriptions written in bulk."""
    addresses = list({row.email for row in batch})
    suppressed = set(
        session.scalars(select(SuppressionRow.email).where(SuppressionRow.email.in_(addresses)))
    )
    existing = {
        r.email: r
        for r in session.execute(
            select(
                SubscriberRow.id, SubscriberRow.email, SubscriberRow.name, SubscriberRow.attributes
            ).where(SubscriberRow.email.in_(addresses))
        )
    }
    fresh: dict[str, _Row] = {}  # new people, by address
    updates: dict[int, dict[str, Any]] = {}  # known people, by id
    wanted: dict[tuple[str, str], None] = {}  # (address, list) to subscribe, in order
    in_batch: set[str] = set()
    for row in batch:
        key = _address_key(row.email)
        # earlier in this batch, or in an earlier one (which stored or refused it: a
        # hash match alone could be a clash, 2^-64 odds, and must not drop a row)
        if row.email in in_batch or (
            key in seen and (row.email in existing or row.email in suppressed)
        ):
            result.duplicates += 1
            continue
        in_batch.add(row.email)
        seen.add(key)
        if row.email in suppressed:
            result.suppressed.append((row.line, row.email))
            continue
        known = existing.get(row.email)
        if known is None:
            fresh[row.email] = row
            result.added += 1
        else:
            current = updates.get(known.id) or {
                "id": known.id,
                "name": known.name,
                "attributes": dict(known.attributes or {}),
            }
            current["name"] = row.name or current["name"]
            current["attributes"] = {**current["attributes"], **row.attributes}
            current["updated_at"] = now
            updates[known.id] = current
            result.updated += 1
        for list_name in row.lists:
            wanted[(row.email, list_name)] = None
    ids = {email: r.id for email, r in existing.items()}
    if fresh:
        session.execute(
            insert(SUBSCRIBERS),
            [
                {
                    "email": r.email,
                    "name": r.name,
                    "status": "active",
                    "attributes": r.attributes,
                    "created_at": now,
                    "updated_at": now,
                }
                for r in fresh.values()
            ],
        )
        inserted = session.execute(
            select(SUBSCRIBERS.c.id, SUBSCRIBERS.c.email).where(
                SUBSCRIBERS.c.email.in_(list(fresh))
            )
        )
        ids.update({email: id_ for id_, email in inserted})
    if updates:
        session.execute(
            update(SUBSCRIBERS).where(SUBSCRIBERS.c.id == bindparam("b_id")),
            [{"b_id": u.pop("id"), **u} for u in updates.values()],
        )
    _subscribe_batch(session, [(ids[e], n) for e, n in wanted], now, status)


def _address_key(address: str) -> int:
    """64 bits of the address: a set of these holds a million addresses in ~60 MB."""
    return int.from_bytes(hashlib.blake2b(address.encode(), digest_size=8).digest(), "big")


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


def _subscribe_batch(
    session: Session, pairs: list[tuple[int, str]], now: datetime, status: str
) -> None:
    """``subscribe`` for many (subscriber, list) pairs, with its rules, in bulk."""
    if not pairs:
        return
    ids = list({sid for sid, _ in pairs})
    current = {
        (r.subscriber_id, r.list_name): r
        for r in session.execute(
            select(
                SubscriptionRow.subscriber_id,
                SubscriptionRow.list_name,
                SubscriptionRow.status,
                SubscriptionRow.confirmed_at,
            ).where(SubscriptionRow.subscriber_id.in_(ids))
        )
    }
    confirmed_at = now if status == "confirmed" else None
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for sid, list_name in pairs:
        sub = current.get((sid, list_name))
        if sub is None:
            new.append(
                {
                    "subscriber_id": sid,
                    "list_name": list_name,
                    "status": status,
                    "created_at": now,
                    "confirmed_at": confirmed_at,
                }
            )
        elif sub.status != "confirmed" or status == "confirmed":
            values = {
                "subscriber_id": sid,
                "list_name": list_name,
                "status": status,
                "unsubscribed_at": None,
            }
            if status == "confirmed" and sub.confirmed_at is None:
                values["confirmed_at"] = now
            changed.append(values)
    if new:
        session.execute(insert(SUBSCRIPTIONS), new)
    if changed:
        session.execute(
            update(SUBSCRIPTIONS).where(
                SUBSCRIPTIONS.c.subscriber_id == bindparam("b_sid"),
                SUBSCRIPTIONS.c.list_name == bindparam("b_list"),
            ),
            [{"b_sid": c.pop("subscriber_id"), "b_list": c.pop("list_name"), **c} for c in changed],
        )


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
