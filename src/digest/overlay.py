"""The staff's edits to one edition, kept as data of their own.

The automatic selection (digest.formats) is recomposed from the store whenever the
draft is opened or a collect lands; :func:`apply` lays the overlay on top of it. Edits
are keyed by stable item ids (``i<store id>`` for collected items, ``a<n>`` for stories
added by URL), so new items never wipe an edit and a dropped item stays dropped.
Source items are never changed.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from digest.models import Edition, Group, Item, Origin, Section

EDITABLE_TEXT = ("headline", "subject", "preheader", "note")


@dataclass
class ItemEdit:
    """What the staff changed on one item; None means 'as collected'."""

    dropped: bool = False
    pinned: bool = False
    title: str | None = None
    summary: str | None = None  # sanitized HTML
    section: str | None = None  # moved to this format's section


@dataclass
class AddedItem:
    """A story the editor added by pasting its URL."""

    key: str
    section: str
    url: str
    title: str
    summary: str = ""
    site_name: str = ""
    image: str | None = None
    image_alt: str = ""
    added_at: str = ""


@dataclass
class Overlay:
    headline: str | None = None
    subject: str | None = None
    preheader: str | None = None
    note: str | None = None
    intros: dict[str, str] = field(default_factory=dict)  # format id → intro
    items: dict[str, ItemEdit] = field(default_factory=dict)  # item key → edit
    order: dict[str, list[str]] = field(default_factory=dict)  # format id → item keys
    groups: dict[str, list[str]] = field(default_factory=dict)  # format id → headings shown
    added: list[AddedItem] = field(default_factory=list)
    # Reserved for the social engineer: per-platform post text edits, e.g.
    # {"bluesky": {"1": "text of part 1"}}; not applied here.
    social: dict[str, Any] = field(default_factory=dict)

    def edit_of(self, key: str) -> ItemEdit:
        return self.items.setdefault(key, ItemEdit())

    def to_dict(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in EDITABLE_TEXT},
            "intros": dict(self.intros),
            "items": {k: vars(v).copy() for k, v in self.items.items()},
            "order": {k: list(v) for k, v in self.order.items()},
            "groups": {k: list(v) for k, v in self.groups.items()},
            "added": [vars(a).copy() for a in self.added],
            "social": copy.deepcopy(self.social),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Overlay:
        data = data or {}
        return cls(
            **{name: data.get(name) for name in EDITABLE_TEXT},
            intros=dict(data.get("intros", {})),
            items={k: ItemEdit(**v) for k, v in data.get("items", {}).items()},
            order={k: list(v) for k, v in data.get("order", {}).items()},
            groups={k: list(v) for k, v in data.get("groups", {}).items()},
            added=[AddedItem(**a) for a in data.get("added", [])],
            social=dict(data.get("social", {})),
        )

    def next_added_key(self) -> str:
        used = {int(a.key[1:]) for a in self.added if a.key[1:].isdigit()}
        return f"a{max(used, default=0) + 1}"


def item_key(item: Item) -> str:
    """A stable id for an item in the draft (survives recomposes)."""
    if item.extra.get("added_key"):
        return str(item.extra["added_key"])
    if item.id is not None:
        return f"i{item.id}"
    digest = hashlib.sha1(f"{item.source_id}\0{item.guid}".encode()).hexdigest()[:10]
    return f"g{digest}"


def added_as_item(added: AddedItem) -> Item:
    origin = Origin(name=added.site_name or _host(added.url), kind="other")
    when = datetime.fromisoformat(added.added_at) if added.added_at else datetime(2000, 1, 1)
    from digest.models import Media

    media = (Media(added.image, added.image_alt),) if added.image else ()
    return Item(
        source_id="editor",
        guid=added.url,
        url=added.url,
        title=added.title or added.url,
        origin=origin,
        published_at=when,
        summary=added.summary,
        media=media,
        extra={"added_key": added.key},
    )


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


def apply(edition: Edition, overlay: Overlay) -> Edition:
    """The edition as the staff shaped it: the automatic sections with the overlay on top."""
    sections = {s.format_id: s for s in edition.sections}
    _move_between_sections(edition.sections, sections, overlay)
    for added in overlay.added:
        target = sections.get(added.section)
        if target is not None:
            _add_to(target, added_as_item(added))
    for section in edition.sections:
        _apply_section(section, overlay)
    edition.sections = [s for s in edition.sections if not s.is_empty]
    edition.headline = overlay.headline or ""
    edition.preheader = overlay.preheader or ""
    edition.note = overlay.note or ""
    if overlay.subject:
        edition.subject = overlay.subject
    return edition


def _add_to(section: Section, item: Item) -> None:
    if section.groups:
        heading = item.origin.name
        for group in section.groups:
            if group.heading == heading:
                group.items.append(item)
                return
        section.groups.append(Group(heading=heading, items=[item], url=None))
    else:
        section.items.append(item)


def _move_between_sections(
    ordered: list[Section], sections: dict[str, Section], overlay: Overlay
) -> None:
    for section in ordered:
        for item in list(_all_items(section)):
            edit = overlay.items.get(item_key(item))
            if edit and edit.section and edit.section != section.format_id:
                target = sections.get(edit.section)
                if target is not None:
                    _remove(section, item)
                    _add_to(target, item)


def _all_items(section: Section) -> list[Item]:
    return section.items + [i for g in section.groups for i in g.items]


def _remove(section: Section, item: Item) -> None:
    if item in section.items:
        section.items.remove(item)
    for group in section.groups:
        if item in group.items:
            group.items.remove(item)


def _apply_section(section: Section, overlay: Overlay) -> None:
    if section.format_id in overlay.intros:
        section.intro = overlay.intros[section.format_id]
    order = overlay.order.get(section.format_id, [])
    section.items = _arrange(section.items, overlay, order)
    for group in section.groups:
        group.items = _arrange(group.items, overlay, order)
    chosen = overlay.groups.get(section.format_id)
    if chosen is not None:
        by_heading = {g.heading: g for g in section.groups}
        section.groups = [by_heading[h] for h in chosen if h in by_heading]
    section.groups = [g for g in section.groups if g.items]


def _arrange(items: list[Item], overlay: Overlay, order: list[str]) -> list[Item]:
    """Edit, drop, order (explicit positions first, new items where the selection put
    them) and pin to the top."""
    kept: list[Item] = []
    for item in items:
        edit = overlay.items.get(item_key(item))
        if edit is not None and edit.dropped:
            continue
        kept.append(_edited(item, edit) if edit else item)
    ranked = _ordered(kept, order)
    pinned = [i for i in ranked if _is_pinned(overlay, i)]
    return pinned + [i for i in ranked if not _is_pinned(overlay, i)]


def _is_pinned(overlay: Overlay, item: Item) -> bool:
    edit = overlay.items.get(item_key(item))
    return bool(edit and edit.pinned)


def _ordered(items: list[Item], order: list[str]) -> list[Item]:
    if not order:
        return items
    rank = {key: n for n, key in enumerate(order)}
    listed = sorted((i for i in items if item_key(i) in rank), key=lambda i: rank[item_key(i)])
    result = list(listed)
    for position, item in enumerate(items):
        if item_key(item) not in rank:  # new since the editor ordered: keep its place
            result.insert(min(position, len(result)), item)
    return result


def _edited(item: Item, edit: ItemEdit) -> Item:
    if edit.title is None and edit.summary is None:
        return item
    changed = copy.copy(item)
    if edit.title is not None:
        changed.title = edit.title
    if edit.summary is not None:
        changed.summary = edit.summary
    return changed
