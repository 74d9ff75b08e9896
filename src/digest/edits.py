"""The editor's controls: each one a change to a draft's overlay, with what it changed.

:func:`apply_edit` is the one way in (the CLI and the desk call it): it reads the
draft, refuses if sending has started, applies the change to the overlay, stores it
(an approved or held edition goes back to draft), records the edit in the history and
recomposes the draft. Concurrent edits by two staff never lose one another: every
change is a small read-modify-write of the overlay guarded by the row's ``revision``
and retried on a clash, so each field keeps the last write and nothing else is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import defer

from digest import lifecycle
from digest.config import Settings
from digest.draft import (
    arrange,
    overlaid,
    period_of,
    recompose_row,
    selection_of,
)
from digest.errors import DigestError
from digest.models import Edition, Item, Section
from digest.overlay import EDITABLE_TEXT, AddedItem, Overlay, added_as_item, item_key
from digest.sanitize import plain_text, sanitize_html
from digest.store import Store
from digest.store.tables import EditionRow

if TYPE_CHECKING:
    from digest.render import Renderer

MAX_RETRIES = 8


class EditError(DigestError):
    """A change that cannot be made (unknown id, bad value); says which and lists options."""


@dataclass
class DraftItem:
    key: str
    title: str
    url: str
    summary: str
    origin: str
    group: str | None
    dropped: bool = False
    pinned: bool = False
    added: bool = False
    edited: bool = False


@dataclass
class DraftSection:
    format_id: str
    title: str
    intro: str
    grouped: bool
    items: list[DraftItem] = field(default_factory=list)
    groups_available: list[str] = field(default_factory=list)
    groups_shown: list[str] = field(default_factory=list)


@dataclass
class DraftView:
    """What the editor sees: the arranged sections, dropped items listed for restore."""

    edition_id: int
    newsletter: str
    period_key: str
    status: str
    revision: int
    headline: str
    subject: str
    preheader: str
    note: str
    sections: list[DraftSection]

    def item_keys(self) -> list[str]:
        return [i.key for s in self.sections for i in s.items]

    def find(self, key: str) -> tuple[DraftSection, DraftItem]:
        for section in self.sections:
            for item in section.items:
                if item.key == key:
                    return section, item
        valid = ", ".join(self.item_keys()) or "none"
        raise EditError(f"no item '{key}' in edition {self.edition_id} (valid ids: {valid})")

    def section(self, format_id: str) -> DraftSection:
        for section in self.sections:
            if section.format_id == format_id:
                return section
        valid = ", ".join(s.format_id for s in self.sections) or "none"
        raise EditError(
            f"no section '{format_id}' in edition {self.edition_id} (sections: {valid})"
        )

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


Change = Callable[[Overlay, DraftView], str]


def build_view(row: EditionRow, auto: list[Section], edition: Edition) -> DraftView:
    """The draft's arranged sections (from ``edition``) plus dropped items from ``auto``,
    in the newsletter's section order (a section emptied by drops stays listed)."""
    overlay = Overlay.from_dict(row.overlay)
    arranged = {s.format_id: s for s in edition.sections}
    sections = []
    for automatic in auto:
        section = arranged.get(automatic.format_id)
        view = DraftSection(
            automatic.format_id,
            automatic.title,
            section.intro if section else overlay.intros.get(automatic.format_id, ""),
            grouped=bool(automatic.groups),
        )
        for group_heading, item in _items_with_groups(section) if section else []:
            view.items.append(_draft_item(item, group_heading, overlay))
        view.groups_available = [g.heading for g in automatic.groups]
        for group_heading, item in _items_with_groups(automatic):
            edit = overlay.items.get(item_key(item))
            if edit and edit.dropped:
                view.items.append(_draft_item(item, group_heading, overlay))
        view.groups_shown = [g.heading for g in section.groups] if section else []
        sections.append(view)
    return DraftView(
        edition_id=row.id,
        newsletter=row.newsletter,
        period_key=row.period_key,
        status=row.status,
        revision=row.revision,
        headline=overlay.headline or "",
        subject=edition.subject,
        preheader=overlay.preheader or "",
        note=overlay.note or "",
        sections=sections,
    )


def _items_with_groups(section: Section) -> list[tuple[str | None, Item]]:
    pairs: list[tuple[str | None, Item]] = [(None, i) for i in section.items]
    pairs += [(g.heading, i) for g in section.groups for i in g.items]
    return pairs


def _draft_item(item: Item, group: str | None, overlay: Overlay) -> DraftItem:
    key = item_key(item)
    edit = overlay.items.get(key)
    return DraftItem(
        key=key,
        title=item.title,
        url=item.url,
        summary=item.summary,
        origin=item.origin.name,
        group=group,
        dropped=bool(edit and edit.dropped),
        pinned=bool(edit and edit.pinned),
        added=key.startswith("a"),
        edited=bool(edit and (edit.title is not None or edit.summary is not None)),
    )


# --- the changes ------------------------------------------------------------------------


def set_text(name: str, value: str) -> Change:
    if name not in EDITABLE_TEXT:
        raise EditError(f"'{name}' is not editable (one of: {', '.join(EDITABLE_TEXT)})")
    cleaned = plain_text(value, paragraphs=(name == "note")).strip()

    def change(overlay: Overlay, view: DraftView) -> str:
        setattr(overlay, name, cleaned or None)
        return f"{name} set to {cleaned!r}" if cleaned else f"{name} cleared"

    return change


def set_intro(format_id: str, value: str) -> Change:
    cleaned = plain_text(value).strip()

    def change(overlay: Overlay, view: DraftView) -> str:
        view.section(format_id)
        overlay.intros[format_id] = cleaned
        return f"intro of {format_id} set to {cleaned!r}" if cleaned else f"{format_id}: no intro"

    return change


def drop(key: str) -> Change:
    def change(overlay: Overlay, view: DraftView) -> str:
        _, item = view.find(key)
        overlay.edit_of(key).dropped = True
        return f"dropped {key} ({item.title})"

    return change


def restore(key: str) -> Change:
    def change(overlay: Overlay, view: DraftView) -> str:
        _, item = view.find(key)
        if not item.dropped:
            raise EditError(f"item '{key}' is not dropped")
        overlay.edit_of(key).dropped = False
        return f"restored {key} ({item.title})"

    return change


def pin(key: str, pinned: bool = True) -> Change:
    def change(overlay: Overlay, view: DraftView) -> str:
        _, item = view.find(key)
        overlay.edit_of(key).pinned = pinned
        return f"{'pinned' if pinned else 'unpinned'} {key} ({item.title})"

    return change


def unpin(key: str) -> Change:
    return pin(key, pinned=False)


Where = Literal["up", "down", "top", "bottom"] | int


def move(key: str, where: Where, section: str | None = None) -> Change:
    """Up/down one place, to the top/bottom, or to a 1-based position; optionally into
    another section first."""

    def change(overlay: Overlay, view: DraftView) -> str:
        current, item = view.find(key)
        note = ""
        if section is not None and section != current.format_id:
            target = view.section(section)
            overlay.edit_of(key).section = section
            current.items.remove(item)
            target.items.append(item)
            current = target
            note = f" into {section}"
        live = [i for i in current.items if not i.dropped]
        if item not in live:
            raise EditError(f"item '{key}' is dropped; restore it before moving it")
        # in a grouped section an item moves among its group's items
        peers = [i.key for i in live if i.group == item.group or note]
        index = peers.index(key)
        peers.pop(index)
        new = _new_index(where, index, len(peers))
        peers.insert(new, key)
        overlay.order[current.format_id] = _merged([i.key for i in live], peers)
        return f"moved {key}{note} to position {new + 1} of {len(peers)}"

    return change


def _merged(full: list[str], reordered: list[str]) -> list[str]:
    """``full`` with the places its members of ``reordered`` hold filled in that order."""
    members = set(reordered)
    queue = iter(reordered)
    merged = [next(queue) if k in members else k for k in full]
    return merged + [k for k in reordered if k not in full]


def _new_index(where: Where, index: int, others: int) -> int:
    if where == "up":
        return max(index - 1, 0)
    if where == "down":
        return min(index + 1, others)
    if where == "top":
        return 0
    if where == "bottom":
        return others
    if isinstance(where, int) and where >= 1:
        return min(where - 1, others)
    raise EditError(f"position '{where}': use up, down, top, bottom or a number from 1")


def edit_item(key: str, *, title: str | None = None, excerpt: str | None = None) -> Change:
    """A new title (plain text) and/or excerpt (HTML, sanitized like source content)."""

    def change(overlay: Overlay, view: DraftView) -> str:
        view.find(key)
        done = []
        added = _added(overlay, key)
        if title is not None:
            clean = plain_text(title).strip()
            if not clean:
                raise EditError(f"item '{key}': the title cannot be empty")
            if added:
                added.title = clean
            else:
                overlay.edit_of(key).title = clean
            done.append(f"title {clean!r}")
        if excerpt is not None:
            clean_html = sanitize_html(_as_html(excerpt))
            if added:
                added.summary = clean_html
            else:
                overlay.edit_of(key).summary = clean_html
            done.append("excerpt")
        if not done:
            raise EditError(f"item '{key}': give a new title or excerpt")
        return f"edited {key}: " + ", ".join(done)

    return change


def _as_html(text: str) -> str:
    """Plain text typed into a box becomes paragraphs; HTML is kept (then sanitized)."""
    if "<" in text:
        return text
    from html import escape

    paras = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(f"<p>{escape(p)}</p>" for p in paras)


def _added(overlay: Overlay, key: str) -> AddedItem | None:
    return next((a for a in overlay.added if a.key == key), None)


def add_story(added: AddedItem) -> Change:
    """Add a story (filled from its page by digest.addurl, or by hand)."""

    def change(overlay: Overlay, view: DraftView) -> str:
        view.section(added.section)
        added.key = overlay.next_added_key()
        overlay.added.append(added)
        return f"added {added.key} to {added.section}: {added_as_item(added).title}"

    return change


def pick_groups(format_id: str, headings: list[str]) -> Change:
    """Which groups of a grouped section appear, in this order ([] = all, automatic)."""

    def change(overlay: Overlay, view: DraftView) -> str:
        section = view.section(format_id)
        if not section.grouped:
            raise EditError(f"section '{format_id}' has no groups to pick")
        available = section.groups_available or section.groups_shown
        unknown = [h for h in headings if h not in available]
        if unknown:
            raise EditError(
                f"section '{format_id}' has no group {', '.join(map(repr, unknown))} "
                f"(groups: {', '.join(available)})"
            )
        if not headings:
            overlay.groups.pop(format_id, None)
            return f"{format_id}: every group shown, automatic order"
        overlay.groups[format_id] = list(headings)
        return f"{format_id}: groups shown: {', '.join(headings)}"

    return change


# --- applying a change ------------------------------------------------------------------


@dataclass
class EditResult:
    message: str
    edition: Edition
    revision: int  # the draft's revision after this edit
    reopened: bool


def open_view(
    settings: Settings,
    store: Store,
    edition_id: int,
    *,
    now: datetime,
    renderer: Renderer | None = None,
    force: bool = True,
) -> tuple[Edition, DraftView]:
    """Open the edition: a draft is recomposed from the store (and stored); a frozen one
    is read. Without ``force`` a draft composed after the store last changed is read
    as stored (the same result, without a second render after every edit)."""
    from digest.editions import edition_from_row

    with store.session() as session:
        row = _row(session, edition_id)
        zone = settings.newsletters[row.newsletter].timezone
        if row.status == lifecycle.EditionStatus.DRAFT:
            stored = None if force else _fresh_selection(settings, session, row)
            if stored is not None:
                return edition_from_row(row, zone), build_view(
                    row, stored.sections, edition_from_row(row, zone)
                )
            auto, edition = recompose_row(
                settings, session, row, now, _renderer(settings, renderer)
            )
        else:
            edition = edition_from_row(row, zone)
            auto, _ = arrange(
                settings, session, row.newsletter, period_of(settings, row), Overlay()
            )
        return edition, build_view(row, auto, edition)


def _fresh_selection(settings: Settings, session: Any, row: EditionRow) -> Edition | None:
    """The stored selection, if no item was collected or changed since it was composed."""
    from sqlalchemy import func

    from digest.store.tables import ItemRow

    if row.composed_at is None or row.selection is None:
        return None
    changed = session.scalar(select(func.max(ItemRow.updated_at)))
    if changed is not None and changed >= row.composed_at:
        return None
    return selection_of(settings, row)


def apply_edit(
    settings: Settings,
    store: Store,
    edition_id: int,
    change: Change,
    *,
    actor: str,
    now: datetime,
    renderer: Renderer | None = None,
) -> EditResult:
    """Make one change and re-render the draft; retried when another edit wrote first."""
    renderer = _renderer(settings, renderer)
    for _ in range(MAX_RETRIES):
        try:
            result = _try_edit(settings, store, edition_id, change, actor, now, renderer)
        except OperationalError:  # SQLite: another writer committed since we read
            result = None
        if result is not None:
            return result
    raise EditError(f"edition {edition_id} is being edited by others; try again")


def _try_edit(
    settings: Settings,
    store: Store,
    edition_id: int,
    change: Change,
    actor: str,
    now: datetime,
    renderer: Renderer,
) -> EditResult | None:
    """One read-modify-write of the overlay; None when someone else wrote first.

    The edit re-applies the overlay to the selection stored at the last recompose and
    renders once: no new selection from the store (opening the page or a collect does
    that), so the refreshed preview costs about one render."""
    from digest.editions import render_into

    with store.session() as session:
        row = _row(session, edition_id, light=True)
        lifecycle.check_editable(row)
        seen = row.revision
        overlay = Overlay.from_dict(row.overlay)
        auto = selection_of(settings, row)
        if auto is None:
            sections, current = arrange(
                settings, session, row.newsletter, period_of(settings, row), overlay
            )
            auto = replace(current, sections=sections)
        current = overlaid(settings, auto, overlay)
        message = change(overlay, build_view(row, auto.sections, current))
        edition = overlaid(settings, auto, overlay)
        edition.markers = row.markers or ""  # the edition keeps its recipient markers
        edition = render_into(edition, renderer)
        written = session.execute(
            update(EditionRow)
            .where(EditionRow.id == edition_id, EditionRow.revision == seen)
            .values(overlay=overlay.to_dict(), revision=seen + 1, **_renditions(edition))
            .execution_options(synchronize_session=False)
        )
        if written.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return None
        reopened = False
        if row.status != lifecycle.EditionStatus.DRAFT:
            session.expire(row)
            reopened = lifecycle.reopen_if_approved(session, row, actor=actor, now=now)
        lifecycle.record(session, row, "edit", actor=actor, now=now, detail=message)
        edition.id = edition_id
        return EditResult(message, edition, seen + 1, reopened)


def _renditions(edition: Edition) -> dict[str, Any]:
    return {
        "subject": edition.subject,
        "headline": edition.headline,
        "preheader": edition.preheader,
        "note": edition.note,
        "sections": [s.to_dict() for s in edition.sections],
        "html": edition.html,
        "text": edition.text,
        "web_html": edition.web_html,
        "markers": edition.markers,
    }  # not composed_at: the selection is as old as the last recompose


def _row(session: Any, edition_id: int, light: bool = False) -> EditionRow:
    """The edition's row; ``light`` skips the stored renditions an edit rewrites."""
    if light:
        query = (
            select(EditionRow)
            .where(EditionRow.id == edition_id)
            .options(
                defer(EditionRow.sections),
                defer(EditionRow.html),
                defer(EditionRow.text),
                defer(EditionRow.web_html),
            )
        )
        row = session.scalars(query).first()
    else:
        row = session.get(EditionRow, edition_id)
    if row is None:
        raise EditError(f"edition {edition_id} does not exist")
    assert isinstance(row, EditionRow)
    return row


def _renderer(settings: Settings, renderer: Renderer | None) -> Renderer:
    if renderer is not None:
        return renderer
    from digest.render import Renderer

    return Renderer(settings)
