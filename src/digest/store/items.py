"""Saving collected items (deduplicated, updates in place) and reading a time window."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from digest.models import Item
from digest.store.tables import ItemRow

Outcome = Literal["new", "updated", "unchanged"]
# Item.extra key of an entry that had no (trustworthy) date: dated when first seen.
UNDATED = "undated"
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


def content_hash(data: dict[str, Any]) -> str:
    """A fingerprint of an item's stored form, to tell an edited entry from an unchanged one."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def upsert_items(session: Session, items: Iterable[Item], now: datetime) -> dict[Outcome, int]:
    """Store items once each; a batch is looked up in a few queries and written together.

    - the same (source, guid) again updates the stored item when its content changed;
    - the same canonical URL from another source is the same story: the first source
      keeps it, and the copy counts as unchanged (so two sources never overwrite each
      other on every collect);
    - duplicates inside one batch follow the same rules;
    - an item marked undated (``extra["undated"]``) keeps the date stored for it.
    """
    batch = list(items)
    canons = [canonical_url(i.url) if i.url else f"guid:{i.guid}" for i in batch]
    by_key: dict[tuple[str, str], ItemRow | dict[str, Any]] = {}
    by_canon: dict[str, ItemRow | dict[str, Any]] = {}
    for found in _existing_rows(session, batch, canons):
        by_key[(found.source_id, found.guid)] = found
        by_canon.setdefault(found.canonical_url, found)
    counts: dict[Outcome, int] = {"new": 0, "updated": 0, "unchanged": 0}
    inserts: list[dict[str, Any]] = []
    for item, canon in zip(batch, canons, strict=True):
        same_source = by_key.get((item.source_id, item.guid))
        if same_source is not None and item.extra.get(UNDATED):
            # An undated entry keeps the date it was first seen: it belongs to that
            # period once, instead of moving into every edition.
            item.published_at = _get(same_source, "published_at")
        data = item.to_dict()
        data.pop("id", None)
        digest = content_hash(data)
        target = same_source if same_source is not None else by_canon.get(canon)
        if target is None:
            row = _new_row(item, canon, digest, data, now)
            inserts.append(row)
            by_key[(item.source_id, item.guid)] = row
            by_canon.setdefault(canon, row)
            counts["new"] += 1
        elif same_source is None or _get(target, "content_hash") == digest:
            counts["unchanged"] += 1
        else:
            _update(target, item, digest, data, now)
            counts["updated"] += 1
    if inserts:
        session.execute(insert(ItemRow), inserts)
    session.flush()
    return counts


def _new_row(
    item: Item, canon: str, digest: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "source_id": item.source_id,
        "guid": item.guid,
        "canonical_url": canon,
        "content_hash": digest,
        "published_at": item.published_at,
        "collected_at": now,
        "updated_at": now,
        "data": data,
    }


def _get(target: ItemRow | dict[str, Any], name: str) -> Any:
    return target[name] if isinstance(target, dict) else getattr(target, name)


def _update(
    target: ItemRow | dict[str, Any], item: Item, digest: str, data: dict[str, Any], now: datetime
) -> None:
    values = {
        "content_hash": digest,
        "data": data,
        "published_at": item.published_at,
        "updated_at": now,
    }
    if isinstance(target, dict):  # a row of this batch not yet inserted
        target.update(values)
    else:
        for name, value in values.items():
            setattr(target, name, value)


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
