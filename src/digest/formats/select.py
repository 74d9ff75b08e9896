"""Strategies over collected items: a flat list, groups by origin or state, one story."""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict

from digest.config import FormatConfig
from digest.excerpts import strip_lead_html
from digest.models import Group, Item


def matches(fmt: FormatConfig, item: Item) -> bool:
    """Does the item belong in this format? Empty selection lists mean 'any'."""
    select = fmt.select
    if select.sources and item.source_id not in select.sources:
        return False
    if select.kinds and item.origin.kind not in select.kinds:
        return False
    if not _title_matches(fmt, item.title):
        return False
    wanted = {t.lower() for t in select.tags}
    return not wanted or bool(wanted & {t.lower() for t in item.tags})


def _title_matches(fmt: FormatConfig, title: str) -> bool:
    """A series post: its title starts with one of the prefixes or matches the pattern
    (either will do when both are set; neither set means any title)."""
    prefixes = fmt.select.title_prefixes
    pattern = fmt.select.title_pattern
    if not prefixes and pattern is None:
        return True
    folded = " ".join(title.split()).casefold()
    if any(folded.startswith(" ".join(p.split()).casefold()) for p in prefixes):
        return True
    return pattern is not None and re.search(pattern, title, re.IGNORECASE) is not None


def chosen(fmt: FormatConfig, window: list[Item]) -> list[Item]:
    """Matching items, newest first (the window arrives newest first), without the
    format's known lead sentence."""
    return [_without_lead(fmt, item) for item in window if matches(fmt, item)]


def _without_lead(fmt: FormatConfig, item: Item) -> Item:
    if not fmt.strip_lead:
        return item
    summary = strip_lead_html(item.summary, fmt.strip_lead)
    body = strip_lead_html(item.body, fmt.strip_lead)
    if (summary, body) == (item.summary, item.body):
        return item
    return dataclasses.replace(item, summary=summary, body=body)


def list_section(fmt: FormatConfig, window: list[Item]) -> list[Item]:
    items = chosen(fmt, window)
    return items[: fmt.limit] if fmt.limit else items


def single_section(fmt: FormatConfig, window: list[Item]) -> list[Item]:
    """The newest matching story (the daily Spotlight)."""
    return chosen(fmt, window)[:1]


def grouped_section(fmt: FormatConfig, window: list[Item]) -> list[Group]:
    """One group per origin (or per state), alphabetical, each group newest first."""
    groups: dict[str, list[Item]] = defaultdict(list)
    urls: dict[str, str | None] = {}
    for item in chosen(fmt, window):
        heading = _heading(fmt, item)
        if heading is None:
            continue
        groups[heading].append(item)
        urls.setdefault(heading, item.origin.url if fmt.group_by == "origin" else None)
    result = []
    for heading in sorted(groups, key=str.casefold):
        items = groups[heading]
        if fmt.per_group_limit:
            items = items[: fmt.per_group_limit]
        result.append(Group(heading=heading, items=items, url=urls[heading]))
    return result[: fmt.limit] if fmt.limit else result


def _heading(fmt: FormatConfig, item: Item) -> str | None:
    if fmt.group_by == "state":
        return item.origin.state
    return item.origin.name
