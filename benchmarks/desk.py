"""The desk's edit loop: the time from an edit (a new headline) to its refreshed preview,
against one plain render of the same 90-item edition.

An edit goes through digest.edits.apply_edit — the overlay's guarded read-modify-write,
the history line, the recompose from the store (the selection runs again: new items
must show) and one render — and the preview is the stored email HTML the desk's frames
show. The reference is digest.editions.render_into (email + archive page) of the same
composed edition with the same warm Renderer.

    .venv/bin/python benchmarks/desk.py [ROUNDS]

Last line: edit_preview_ratio=<edit_ms / render_ms> (goal ≤ 2).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from digest.config import Settings, validate_config
from digest.draft import ensure_draft, period_of
from digest.editions import compose_edition, render_into
from digest.edits import apply_edit, set_text
from digest.models import Item, Origin
from digest.overlay import Overlay
from digest.render import Renderer
from digest.store import Store, open_store
from digest.store.items import upsert_items
from digest.store.tables import EditionRow

NOW = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)  # Thursday: Friday's edition is a draft
STATES = ["Coastal", "Highland", "Lakeland", "Prairie", "Ridge", "River"]
TOPICS = ["contract vote", "safety win", "picket line", "town hall", "new members", "rally"]


def settings(tmp: Path) -> Settings:
    (tmp / "f.xml").write_text("<rss version='2.0'><channel><title>t</title></channel></rss>")
    source = {"type": "feed", "path": str(tmp / "f.xml"), "origin": {"name": "Blog"}}
    return validate_config(
        {
            "organization": {
                "name": "Demo Federation of Labor",
                "postal_address": "815 Union Ave, Harbor City, HC 10001",
                "site_url": "https://news.demo-labor.example",
                "sender": {"name": "Demo Federation", "email": "news@demo-labor.example"},
            },
            "store": {"url": f"sqlite:///{tmp / 'bench.db'}"},
            "output_dir": str(tmp / "out"),
            "sources": {"news": source, "states": source},
            "formats": {
                "weekly_list": {
                    "strategy": "list",
                    "title": "The Working People Weekly List",
                    "template": "weekly_list",
                    "select": {"sources": ["news"]},
                },
                "in_the_states": {
                    "strategy": "grouped",
                    "group_by": "origin",
                    "title": "In the States",
                    "template": "in_the_states",
                    "select": {"sources": ["states"]},
                },
            },
            "newsletters": {
                "weekly": {
                    "title": "Working People Weekly",
                    "schedule": "fri 16:00",
                    "timezone": "America/New_York",
                    "formats": ["weekly_list", "in_the_states"],
                }
            },
        },
        base_dir=tmp,
    )


def items() -> list[Item]:
    made = []
    for n in range(90):
        topic = TOPICS[n % len(TOPICS)]
        state = n >= 60
        origin = (
            Origin(f"{STATES[n % len(STATES)]} State Federation", "state_federation")
            if state
            else Origin("Labor News Daily", "news_outlet")
        )
        made.append(
            Item(
                source_id="states" if state else "news",
                guid=f"item-{n}",
                url=f"https://news.example.org/{n}",
                title=f"Workers win a {topic} in story {n}",
                origin=origin,
                published_at=NOW - timedelta(hours=n + 1),
                summary=(
                    f"<p>Members met on {topic} and won what they came for: story {n}, "
                    "with “quotes” and — dashes — as the feeds have them.</p>"
                ),
            )
        )
    return made


def best(times: list[float]) -> float:
    return min(times) * 1000


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    with tempfile.TemporaryDirectory() as folder:
        config = settings(Path(folder))
        store: Store = open_store(config.store.url)
        with store.session() as session:
            upsert_items(session, items(), NOW)
        renderer = Renderer(config)
        draft = ensure_draft(
            config, store, "weekly", _period(config, store), now=NOW, renderer=renderer
        )
        assert draft is not None and draft.id is not None and draft.item_count == 90
        with store.session() as session:
            row = session.get(EditionRow, draft.id)
            assert row is not None
            edition = compose_edition(
                config, session, "weekly", period_of(config, row), Overlay.from_dict(row.overlay)
            )
        renders, edit_times, commits = [], [], []
        for n in range(rounds):  # alternating, so both see the same machine load
            start = time.perf_counter()
            render_into(edition, renderer)
            renders.append(time.perf_counter() - start)
            start = time.perf_counter()
            apply_edit(
                config,
                store,
                draft.id,
                set_text("headline", f"Headline {n}"),
                actor="bench",
                now=NOW,
                renderer=renderer,
            )
            with store.session() as session:
                html = session.get(EditionRow, draft.id).html  # type: ignore[union-attr]
            edit_times.append(time.perf_counter() - start)
            assert f"Headline {n}" in html
            start = time.perf_counter()  # the floor under any durable edit: one commit
            with store.session() as session:
                session.execute(
                    update(EditionRow).where(EditionRow.id == draft.id).values(composed_at=NOW)
                )
            commits.append(time.perf_counter() - start)
        store.dispose()
    render_ms, edit_ms = best(renders), best(edit_times)
    print(f"items=90 rounds={rounds}")
    print(f"plain_render_ms={render_ms:.1f}")
    print(f"edit_to_preview_ms={edit_ms:.1f}")
    print(f"one_sqlite_commit_ms={best(commits):.1f}")
    print(f"edit_preview_ratio={edit_ms / render_ms:.2f}")


def _period(config: Settings, store: Store):  # type: ignore[no-untyped-def]
    from digest.draft import due

    return due(config, store, "weekly", NOW).period


if __name__ == "__main__":
    main()
