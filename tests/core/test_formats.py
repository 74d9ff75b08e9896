"""Formats: which items each strategy picks, how it groups them, and the rotation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from digest.config import Settings
from digest.errors import ConfigError
from digest.formats import build_sections
from digest.models import Item, Origin
from digest.store import Store
from digest.store.items import upsert_items
from digest.timing import Period, period_ending

END = datetime.fromisoformat("2026-11-20T16:00-05:00")
PERIOD = period_ending(END, timedelta(days=7), "America/New_York")


def item(
    n: int, origin: Origin, days_ago: float = 1, tags: tuple[str, ...] = (), source: str = "blog"
) -> Item:
    return Item(
        source_id=source,
        guid=f"guid-{n}",
        url=f"https://news.example.org/{n}",
        title=f"Story {n}",
        origin=origin,
        published_at=END - timedelta(days=days_ago),
        tags=tags,
    )


def save(store: Store, items: list[Item]) -> None:
    with store.session() as session:
        upsert_items(session, items, END)


def sections_for(settings: Settings, store: Store, period: Period = PERIOD) -> dict[str, Any]:
    with store.session() as session:
        return {s.format_id: s for s in build_sections(settings, session, "weekly", period)}


OHIO = Origin("Ohio State Labor Federation", "state_federation", "Ohio")
TEXAS = Origin("Texas Labor Federation", "state_federation", "Texas")
TRANSIT = Origin("United Transit Workers", "affiliate", url="https://transit.example.org")
GAZETTE = Origin("The Lakeshore Ledger", "news_outlet")


def weekly(make_settings: Callable[..., Settings], formats: dict[str, Any]) -> Settings:
    return make_settings(
        formats=formats,
        newsletters={
            "weekly": {
                "title": "Weekly",
                "schedule": "fri 16:00",
                "timezone": "America/New_York",
                "formats": list(formats),
            }
        },
    )


def test_list_takes_the_window_newest_first_and_caps(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    settings = weekly(
        make_settings,
        {
            "weekly_list": {
                "strategy": "list",
                "title": "List",
                "template": "weekly_list",
                "select": {"kinds": ["news_outlet"]},
                "limit": 2,
            },
        },
    )
    save(
        store,
        [
            item(1, GAZETTE, days_ago=3),
            item(2, GAZETTE, days_ago=1),
            item(3, GAZETTE, days_ago=2),
            item(4, GAZETTE, days_ago=9),  # before the window
            item(5, OHIO, days_ago=1),  # not a news outlet
        ],
    )
    section = sections_for(settings, store)["weekly_list"]
    assert [i.title for i in section.items] == ["Story 2", "Story 3"]


def test_grouped_by_origin_is_alphabetical_with_per_group_cap(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    settings = weekly(
        make_settings,
        {
            "in_the_states": {
                "strategy": "grouped",
                "group_by": "origin",
                "title": "States",
                "template": "in_the_states",
                "select": {"kinds": ["state_federation"]},
                "per_group_limit": 1,
            },
        },
    )
    save(
        store,
        [item(1, TEXAS), item(2, OHIO, days_ago=2), item(3, OHIO, days_ago=1), item(4, TRANSIT)],
    )
    groups = sections_for(settings, store)["in_the_states"].groups
    assert [(g.heading, [i.title for i in g.items]) for g in groups] == [
        ("Ohio State Labor Federation", ["Story 3"]),
        ("Texas Labor Federation", ["Story 1"]),
    ]


def test_tags_select_case_insensitively_and_empty_sections_are_dropped(
    make_settings: Callable[..., Settings], store: Store
) -> None:
    settings = weekly(
        make_settings,
        {
            "worker_wins": {
                "strategy": "list",
                "title": "Wins",
                "template": "worker_wins",
                "select": {"tags": ["Worker-Wins"]},
            },
            "spotlight": {
                "strategy": "single",
                "title": "Spotlight",
                "template": "spotlight",
                "select": {"sources": ["blog"], "tags": ["spotlight"]},
            },
        },
    )
    save(store, [item(1, TRANSIT, tags=("worker-wins",)), item(2, TRANSIT, tags=("other",))])
    sections = sections_for(settings, store)
    assert [i.title for i in sections["worker_wins"].items] == ["Story 1"]
    assert "spotlight" not in sections


def write_affiliates(path: Path, keys: list[str]) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "intro": "Next up is {name}.",
                "affiliates": [
                    {
                        "key": k,
                        "name": f"Union {k}",
                        "short_name": k.upper(),
                        "mission": f"Mission of {k}",
                    }
                    for k in keys
                ],
            }
        ),
        encoding="utf-8",
    )


def test_rotation_moves_to_the_next_affiliate_each_period_and_is_stable(
    make_settings: Callable[..., Settings], store: Store, tmp_path: Path
) -> None:
    write_affiliates(tmp_path / "affiliates.yaml", ["a", "b"])
    settings = weekly(
        make_settings,
        {
            "profile": {
                "strategy": "rotation",
                "title": "Get to Know",
                "template": "affiliate_profile",
                "data": str(tmp_path / "affiliates.yaml"),
            },
        },
    )
    weeks = [
        period_ending(END + timedelta(days=7 * n), timedelta(days=7), "America/New_York")
        for n in range(3)
    ]
    chosen = [sections_for(settings, store, p)["profile"].data["key"] for p in weeks]
    assert chosen == ["a", "b", "a"]  # after everyone is covered, the series starts again
    again = sections_for(settings, store, weeks[2])["profile"].data
    assert again["key"] == "a"
    assert again["intro"] == "Next up is Union a (A)."
    assert again["fields"][:2] == [
        {"label": "Name of union", "value": "Union a"},
        {"label": "Mission", "value": "Mission of a"},
    ]


def test_bad_curated_file_names_file_and_entry(
    make_settings: Callable[..., Settings], store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "affiliates.yaml"
    path.write_text(yaml.safe_dump({"affiliates": [{"key": "a", "name": "A"}, {"key": "b"}]}))
    settings = weekly(
        make_settings,
        {
            "profile": {
                "strategy": "rotation",
                "title": "Get to Know",
                "template": "affiliate_profile",
                "data": str(path),
            },
        },
    )
    with pytest.raises(ConfigError) as caught:
        sections_for(settings, store)
    assert caught.value.problems == [f"{path}: affiliates[1].name: required key is missing"]


def test_political_keeps_upcoming_entries_only(
    make_settings: Callable[..., Settings], store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "political.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "endorsements": [
                    {
                        "state": "Ohio",
                        "office": "Governor",
                        "candidate": "A. Rivera",
                        "election_date": "2027-11-02",
                    },
                    {
                        "state": "Ohio",
                        "office": "Auditor",
                        "candidate": "Past Person",
                        "election_date": "2026-11-03",
                    },
                    {"state": "Alaska", "office": "Senate", "candidate": "B. Chen"},
                ],
                "deadlines": [
                    {"state": "Ohio", "label": "Registration", "date": "2026-12-01"},
                    {"state": "Texas", "label": "Registration", "date": "2026-11-01"},
                    {"state": "Iowa", "label": "Registration", "date": "2027-06-01"},
                ],
                "campaign": {
                    "title": "Pass the Act",
                    "summary": "Call now.",
                    "cta_url": "https://a.example.org",
                },
            }
        )
    )
    settings = weekly(
        make_settings,
        {
            "political": {
                "strategy": "political",
                "title": "Political Action",
                "template": "political_action",
                "data": str(path),
                "call_to_action": "Take action",
            },
        },
    )
    data = sections_for(settings, store)["political"].data
    assert data["endorsements_by_state"] == [
        {
            "state": "Alaska",
            "entries": [{"office": "Senate", "candidate": "B. Chen", "party": None, "url": None}],
        },
        {
            "state": "Ohio",
            "entries": [
                {"office": "Governor", "candidate": "A. Rivera", "party": None, "url": None}
            ],
        },
    ]
    assert [d["state"] for d in data["deadlines"]] == ["Ohio"]
    assert data["campaign"]["cta_label"] == "Take action"
