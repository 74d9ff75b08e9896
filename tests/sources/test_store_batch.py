"""upsert_many (used by collect) follows exactly the rules of upsert_items."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from digest.models import Item, Origin
from digest.store import open_store
from digest.store.items import upsert_items, upsert_many
from digest.store.tables import ItemRow

NOW = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def item(source: str, guid: str, url: str, title: str = "t") -> Item:
    return Item(source, guid, url, title, Origin("O"), NOW - timedelta(days=1))


BATCHES = [
    [
        item("a", "1", "https://x.example.org/1"),
        item("a", "1", "https://x.example.org/1", "same guid again, edited"),
        item("b", "9", "https://X.example.org/1/?utm_source=feed"),  # same story elsewhere
        item("a", "2", "https://x.example.org/2"),
        item("a", "3", ""),  # no URL: deduplicated by guid
    ],
    [
        item("a", "1", "https://x.example.org/1", "same guid again, edited"),  # unchanged
        item("a", "2", "https://x.example.org/2", "edited title"),  # updated
        item("c", "5", "https://x.example.org/5"),  # new
        item("a", "3", "", "edited"),
    ],
]


def run(tmp_path: Path, name: str, upsert) -> tuple[list[dict[str, int]], list[tuple]]:
    store = open_store(f"sqlite:///{tmp_path / name}")
    outcomes = []
    for batch in BATCHES:
        with store.session() as session:
            outcomes.append(upsert(session, [replace(i) for i in batch], NOW))
    with store.session() as session:
        rows = [
            (r.source_id, r.guid, r.canonical_url, r.content_hash, r.data["title"])
            for r in session.scalars(select(ItemRow).order_by(ItemRow.id))
        ]
    store.dispose()
    return outcomes, rows


def test_upsert_many_matches_upsert_items(tmp_path: Path) -> None:
    one_by_one = run(tmp_path, "single.db", upsert_items)
    batched = run(tmp_path, "batch.db", upsert_many)
    assert batched == one_by_one
    assert batched[0] == [
        {"new": 3, "updated": 2, "unchanged": 0},
        # a/1 counts as updated: b/9 (same canonical URL) overwrote that row's data in
        # the first batch; this is upsert_items' rule for one story in two sources
        {"new": 1, "updated": 3, "unchanged": 0},
    ]
