"""Saving collected items (deduplicated, updates in place) and reading a time window."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.models import Item
from digest.store.tables import ItemRow

Outcome = Literal["new", "updated", "unchanged"]
# Tracking parameters that make one story look like many.
_TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "ref_src")


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop fragments and tracking parameters."""
    parts = urlsplit(url.strip())
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING)
    ]
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))


def _content_hash(item: Item) -> str:
    data = item.to_dict()
    data.pop("id", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def upsert_item(session: Session, item: Item, now: datetime) -> Outcome:
    """Store an item once: the same (source, guid) or canonical URL updates, never duplicates."""
    canon = canonical_url(item.url) if item.url else f"guid:{item.guid}"
    row = session.scalars(
        select(ItemRow).where(ItemRow.source_id == item.source_id, ItemRow.guid == item.guid)
    ).first()
    if row is None:
        row = session.scalars(select(ItemRow).where(ItemRow.canonical_url == canon)).first()
    digest = _content_hash(item)
    if row is None:
        session.add(
            ItemRow(
                source_id=item.source_id,
                guid=item.guid,
                canonical_url=canon,
                content_hash=digest,
                published_at=item.published_at,
                collected_at=now,
                updated_at=now,
                data=item.to_dict(),
            )
        )
        return "new"
    if row.content_hash == digest:
        return "unchanged"
    row.content_hash = digest
    row.data = item.to_dict()
    row.published_at = item.published_at
    row.updated_at = now
    return "updated"


def upsert_items(session: Session, items: Iterable[Item], now: datetime) -> dict[Outcome, int]:
    counts: dict[Outcome, int] = {"new": 0, "updated": 0, "unchanged": 0}
    for item in items:
        counts[upsert_item(session, item, now)] += 1
        session.flush()  # so a later duplicate in the same batch finds this row
    return counts


def items_between(
    session: Session,
    start: datetime,
    end: datetime,
    source_ids: Sequence[str] | None = None,
) -> list[Item]:
    """Items published in [start, end), newest first."""
    query = select(ItemRow).where(ItemRow.published_at >= start, ItemRow.published_at < end)
    if source_ids:
        query = query.where(ItemRow.source_id.in_(source_ids))
    rows = session.scalars(query.order_by(ItemRow.published_at.desc(), ItemRow.id)).all()
    items = []
    for row in rows:
        item = Item.from_dict(row.data)
        item.id = row.id
        items.append(item)
    return items


def upsert_many(session: Session, items: Iterable[Item], now: datetime) -> dict[Outcome, int]:
    """``upsert_items`` for large batches (a collect of many feeds): the same rules, but the
    existing rows are looked up in a few queries and written in one flush instead of two
    queries and a flush per item."""
    batch = list(items)
    canon_of = [canonical_url(i.url) if i.url else f"guid:{i.guid}" for i in batch]
    by_key: dict[tuple[str, str], ItemRow] = {}
    by_canon: dict[str, ItemRow] = {}
    for found in _existing_rows(session, batch, canon_of):
        by_key[(found.source_id, found.guid)] = found
        by_canon.setdefault(found.canonical_url, found)
    counts: dict[Outcome, int] = {"new": 0, "updated": 0, "unchanged": 0}
    for item, canon in zip(batch, canon_of, strict=True):
        row = by_key.get((item.source_id, item.guid)) or by_canon.get(canon)
        data = item.to_dict()  # once: asdict is the slow part of a large batch
        data.pop("id", None)
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
        data["id"] = item.id
        if row is None:
            row = ItemRow(
                source_id=item.source_id,
                guid=item.guid,
                canonical_url=canon,
                content_hash=digest,
                published_at=item.published_at,
                collected_at=now,
                updated_at=now,
                data=data,
            )
            session.add(row)
            by_key[(item.source_id, item.guid)] = row
            by_canon.setdefault(canon, row)
            counts["new"] += 1
        elif row.content_hash == digest:
            counts["unchanged"] += 1
        else:
            row.content_hash = digest
            row.data = data
            row.published_at = item.published_at
            row.updated_at = now
            counts["updated"] += 1
    session.flush()
    return counts


def _existing_rows(session: Session, batch: list[Item], canons: list[str]) -> list[ItemRow]:
    rows: dict[int, ItemRow] = {}
    unique_canons = sorted(set(canons))
    for start in range(0, len(unique_canons), 500):
        chunk = unique_canons[start : start + 500]
        for row in session.scalars(select(ItemRow).where(ItemRow.canonical_url.in_(chunk))):
            rows[row.id] = row
    guids: dict[str, set[str]] = {}
    for item in batch:
        guids.setdefault(item.source_id, set()).add(item.guid)
    for source_id, wanted in guids.items():
        ordered = sorted(wanted)
        for start in range(0, len(ordered), 500):
            query = select(ItemRow).where(
                ItemRow.source_id == source_id, ItemRow.guid.in_(ordered[start : start + 500])
            )
            for row in session.scalars(query):
                rows[row.id] = row
    return sorted(rows.values(), key=lambda r: r.id)
