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
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import update

from digest import lifecycle
from digest.config import Settings
from digest.draft import arrange, period_of, recompose_row
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
    view: DraftView
    reopened: bool


def open_view(
    settings: Settings,
    store: Store,
    edition_id: int,
    *,
    now: datetime,
    renderer: Renderer | None = None,
) -> tuple[Edition, DraftView]:
    """Open the edition: a draft is recomposed (and stored); a frozen one is read."""
    from digest.editions import edition_from_row

    renderer = _renderer(settings, renderer)
    with store.session() as session:
        row = _row(session, edition_id)
        if row.status == lifecycle.EditionStatus.DRAFT:
            auto, edition = recompose_row(settings, session, row, now, renderer)
        else:
            edition = edition_from_row(row, settings.newsletters[row.newsletter].timezone)
            auto, _ = arrange(
                settings, session, row.newsletter, period_of(settings, row), Overlay()
            )
        return edition, build_view(row, auto, edition)


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
    for _ in range(MAX_RETRIES):
        outcome = _try_edit(settings, store, edition_id, change, actor, now)
        if outcome is not None:
            message, reopened = outcome
            edition, view = open_view(settings, store, edition_id, now=now, renderer=renderer)
            return EditResult(message, edition, view, reopened)
    raise EditError(f"edition {edition_id} is being edited by others; try again")


def _try_edit(
    settings: Settings,
    store: Store,
    edition_id: int,
    change: Change,
    actor: str,
    now: datetime,
) -> tuple[str, bool] | None:
    """One read-modify-write of the overlay; None when someone else wrote first."""
    with store.session() as session:
        row = _row(session, edition_id)
        lifecycle.check_editable(row)
        seen = row.revision
        overlay = Overlay.from_dict(row.overlay)
        auto, current = arrange(
            settings, session, row.newsletter, period_of(settings, row), overlay
        )
        view = build_view(row, auto, current)
        message = change(overlay, view)
        written = session.execute(
            update(EditionRow)
            .where(EditionRow.id == edition_id, EditionRow.revision == seen)
            .values(overlay=overlay.to_dict(), revision=seen + 1)
            .execution_options(synchronize_session=False)
        )
        if written.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return None
        session.refresh(row)
        reopened = lifecycle.reopen_if_approved(session, row, actor=actor, now=now)
        lifecycle.record(session, row, "edit", actor=actor, now=now, detail=message)
        return message, reopened


def _row(session: Any, edition_id: int) -> EditionRow:
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
