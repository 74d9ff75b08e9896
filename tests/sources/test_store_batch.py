"""Storing a batch of items: deduplication by (source, guid) and canonical URL, updates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from digest.models import Item, Origin
from digest.models import Item as _Item
from digest.store import open_store
from digest.store.items import upsert_items
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


def run(tmp_path: Path, name: str) -> tuple[list[dict[str, int]], list[tuple]]:
    store = open_store(f"sqlite:///{tmp_path / name}")
    outcomes = []
    for batch in BATCHES:
        with store.session() as session:
            outcomes.append(upsert_items(session, [replace(i) for i in batch], NOW))
    with store.session() as session:
        rows = [
            (r.source_id, r.guid, r.canonical_url, r.content_hash, r.data["title"])
            for r in session.scalars(select(ItemRow).order_by(ItemRow.id))
        ]
    store.dispose()
    return outcomes, rows


def test_batches_deduplicate_update_and_keep_the_first_source(tmp_path: Path) -> None:
    outcomes, rows = run(tmp_path, "items.db")
    assert outcomes == [
        # a/1 twice in one batch → one new row, then updated; b/9 is the same story
        # (canonical URL) from another source → unchanged, it does not overwrite a/1
        {"new": 3, "updated": 1, "unchanged": 1},
        {"new": 1, "updated": 2, "unchanged": 1},
    ]
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("a", "1", "same guid again, edited"),
        ("a", "2", "edited title"),
        ("a", "3", "edited"),
        ("c", "5", "t"),
    ]


def test_to_dict_round_trips_and_matches_asdict() -> None:
    from dataclasses import asdict

    from digest.models import Media, SocialPost

    original = _Item(
        "s",
        "g",
        "https://x.example.org/1",
        "Title",
        Origin("O", "affiliate", "Ohio"),
        NOW,
        summary="<p>s</p>",
        tags=("a", "b"),
        media=(Media("https://x.example.org/i.jpg", "alt"),),
        post=SocialPost("bluesky", "https://bsky.app/p", "h.example.org", "H"),
        extra={"quote": "q"},
    )
    data = original.to_dict()
    expected = asdict(original)
    expected["published_at"] = NOW.isoformat()
    expected["tags"], expected["media"] = (
        ["a", "b"],
        [{"url": "https://x.example.org/i.jpg", "alt": "alt"}],
    )
    assert data == expected
    assert _Item.from_dict(data) == original
