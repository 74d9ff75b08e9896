"""The next edition as a draft: recomposed from the store with the staff's overlay.

A draft row exists as soon as there is anything to show (after a collect, when a
command or the desk opens it). While it is a draft its sections and renditions are
recomposed from the store whenever it is opened or a collect lands; the overlay
(digest.overlay) is applied on top, so a recompose never loses an edit. Approval
freezes it: the renditions are composed one last time, stored with a fingerprint, and
those exact bytes are what is sent (digest.pipeline checks the fingerprint).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest import lifecycle
from digest.config import Settings
from digest.errors import DigestError
from digest.lifecycle import EditionStatus
from digest.models import Edition, Group, Section
from digest.overlay import Overlay
from digest.overlay import apply as apply_overlay
from digest.store import Store
from digest.store.tables import RUN_FINISHED, EditionRow, RunRow
from digest.timing import Period, period_ending

if TYPE_CHECKING:
    from digest.render import Renderer


@dataclass(frozen=True)
class Due:
    """The edition "this edition" means: the period whose send time is next."""

    period: Period
    send_at: datetime


def due(settings: Settings, store: Store | None, newsletter_id: str, now: datetime) -> Due:
    """The next edition due: the latest send time if it passed less than the grace ago
    and its run has not finished, otherwise the next send time."""
    from digest.triggers import latest_send_time, next_send_time

    newsletter = settings.newsletters[newsletter_id]
    latest = latest_send_time(newsletter, now)
    if latest is not None and now - latest <= newsletter.grace:
        period = period_ending(latest, newsletter.period, newsletter.timezone)
        if store is None or not _finished(store, newsletter_id, period.key):
            return Due(period, latest)
    upcoming = next_send_time(newsletter, now + timedelta(seconds=1))
    if upcoming is None:
        raise DigestError(f"newsletter '{newsletter_id}': its schedule has no run after {now}")
    return Due(period_ending(upcoming, newsletter.period, newsletter.timezone), upcoming)


def missed(settings: Settings, newsletter_id: str, now: datetime) -> Due | None:
    """The latest send time, if it is more than the grace in the past (a stale period)."""
    from digest.triggers import latest_send_time

    newsletter = settings.newsletters[newsletter_id]
    latest = latest_send_time(newsletter, now)
    if latest is None or now - latest <= newsletter.grace:
        return None
    return Due(period_ending(latest, newsletter.period, newsletter.timezone), latest)


def _finished(store: Store, newsletter_id: str, period_key: str) -> bool:
    with store.session() as session:
        status = session.scalar(
            select(RunRow.status).where(
                RunRow.newsletter == newsletter_id, RunRow.period_key == period_key
            )
        )
    return status in RUN_FINISHED


def fingerprint(row: EditionRow) -> str:
    """sha256 of the frozen renditions: subject, email HTML and text, archive page."""
    digest = hashlib.sha256()
    for part in (row.subject, row.html, row.text, row.web_html):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def verify_frozen(row: EditionRow) -> None:
    """Refuse to send renditions that are not the ones approved."""
    if row.fingerprint is not None and row.fingerprint != fingerprint(row):
        raise DigestError(
            f"{lifecycle.describe(row)}: its stored renditions no longer match the approved "
            "fingerprint; not sending. Edit and approve it again."
        )


def _renderer(settings: Settings, renderer: Renderer | None) -> Renderer:
    if renderer is not None:
        return renderer
    from digest.render import Renderer

    return Renderer(settings)


def arrange(
    settings: Settings, session: Session, newsletter_id: str, period: Period, overlay: Overlay
) -> tuple[list[Section], Edition]:
    """The automatic sections and the edition with the overlay on top (not rendered).

    The selection runs once; the overlay is applied to a copy, so the automatic
    sections stay available to list what the editor dropped.
    """
    from digest.editions import compose_edition

    auto = compose_edition(settings, session, newsletter_id, period)
    return auto.sections, overlaid(settings, auto, overlay)


def overlaid(settings: Settings, auto: Edition, overlay: Overlay) -> Edition:
    """The overlay applied to a copy of the automatic edition (``auto`` is unchanged)."""
    from digest.editions import subject_for

    edition = apply_overlay(copy_edition(auto), overlay)
    if not overlay.subject:
        period = Period(auto.period_start, auto.period_end)
        edition.subject = subject_for(settings, auto.newsletter, period, overlay.headline or "")
    return edition


def copy_edition(edition: Edition) -> Edition:
    """A copy whose sections, groups and item lists can be rearranged freely.

    Items themselves are shared: the overlay never changes an item in place (an edited
    item is a copy), so a deep copy would only cost time on every edit."""
    sections = [
        replace(
            s,
            items=list(s.items),
            groups=[Group(g.heading, list(g.items), g.url) for g in s.groups],
        )
        for s in edition.sections
    ]
    return replace(edition, sections=sections)


def selection_of(settings: Settings, row: EditionRow) -> Edition | None:
    """The automatic edition as of the row's last recompose (None if never stored)."""
    if row.selection is None:
        return None
    period = period_of(settings, row)
    return Edition(
        newsletter=row.newsletter,
        title=settings.newsletters[row.newsletter].title,
        subject=row.subject,
        period_start=period.start,
        period_end=period.end,
        sections=[Section.from_dict(s) for s in row.selection],
    )


def compose(
    settings: Settings,
    session: Session,
    newsletter_id: str,
    period: Period,
    overlay: Overlay,
    renderer: Renderer,
) -> Edition:
    """The automatic selection with the overlay on top, rendered (nothing stored)."""
    from digest.editions import render_into

    _, edition = arrange(settings, session, newsletter_id, period, overlay)
    return render_into(edition, renderer)


def store_renditions(row: EditionRow, edition: Edition, now: datetime) -> None:
    row.subject, row.title = edition.subject, edition.title
    row.headline, row.preheader, row.note = edition.headline, edition.preheader, edition.note
    row.sections = [s.to_dict() for s in edition.sections]
    row.html, row.text, row.web_html = edition.html, edition.text, edition.web_html
    row.markers = edition.markers  # the per-edition recipient markers the HTML carries
    row.composed_at = now


def period_of(settings: Settings, row: EditionRow) -> Period:
    zone = settings.newsletters[row.newsletter].timezone
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    return Period(row.period_start.astimezone(tz), row.period_end.astimezone(tz))


def recompose_row(
    settings: Settings, session: Session, row: EditionRow, now: datetime, renderer: Renderer
) -> tuple[list[Section], Edition]:
    """Recompose a draft row from the store and its overlay and store the renditions.

    Returns the automatic sections too (what the editor may restore from)."""
    from digest.editions import render_into

    auto, edition = arrange(
        settings, session, row.newsletter, period_of(settings, row), Overlay.from_dict(row.overlay)
    )
    edition.markers = row.markers or ""  # kept across recomposes
    render_into(edition, renderer)
    store_renditions(row, edition, now)
    row.selection = [s.to_dict() for s in auto]
    edition.id = row.id
    return auto, edition


def ensure_draft(
    settings: Settings,
    store: Store,
    newsletter_id: str,
    period: Period,
    *,
    now: datetime,
    actor: str = "digest",
    renderer: Renderer | None = None,
) -> Edition | None:
    """The period's edition: a draft recomposed now, or the frozen one once approved.

    Returns None when the period has nothing to show yet and the newsletter does not
    send empty editions; nothing is stored then.
    """
    from digest.editions import edition_from_row, find_edition, has_news, render_into

    renderer = _renderer(settings, renderer)
    newsletter = settings.newsletters[newsletter_id]
    with store.session() as session:
        row = find_edition(session, newsletter_id, period.key)
        if row is not None:
            if row.status != EditionStatus.DRAFT:
                return edition_from_row(row, newsletter.timezone)
            return recompose_row(settings, session, row, now, renderer)[1]
        auto, edition = arrange(settings, session, newsletter_id, period, Overlay())
        render_into(edition, renderer)
        if not has_news(edition) and not newsletter.send_empty:
            session.rollback()
            return None
        row = EditionRow(
            newsletter=newsletter_id,
            period_key=period.key,
            period_start=period.start,
            period_end=period.end,
            status=EditionStatus.DRAFT.value,
            created_at=now,
            overlay=Overlay().to_dict(),
            revision=0,
        )
        store_renditions(row, edition, now)
        row.selection = [s.to_dict() for s in auto]
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # another process made it first: use theirs
            session.rollback()
            return _reload(settings, store, newsletter_id, period)
        lifecycle.record(session, row, "create", actor=actor, now=now, to=EditionStatus.DRAFT)
        edition.id = row.id
        return edition


def _reload(settings: Settings, store: Store, newsletter_id: str, period: Period) -> Edition:
    from digest.editions import edition_from_row, find_edition

    with store.session() as session:
        row = find_edition(session, newsletter_id, period.key)
        assert row is not None
        return edition_from_row(row, settings.newsletters[newsletter_id].timezone)


def recompose_drafts(
    settings: Settings, store: Store, now: datetime, renderer: Renderer | None = None
) -> int:
    """After a collect: every draft recomposed from the store (edits kept). How many."""
    with store.session() as session:
        ids = list(session.scalars(select(EditionRow.id).where(EditionRow.status == "draft")).all())
    renderer = _renderer(settings, renderer) if ids else None
    for edition_id in ids:
        with store.session() as session:
            row = session.get(EditionRow, edition_id)
            if row is None or row.status != "draft" or row.newsletter not in settings.newsletters:
                continue
            assert renderer is not None
            recompose_row(settings, session, row, now, renderer)
    return len(ids)


def approve(
    settings: Settings,
    store: Store,
    edition_id: int,
    *,
    actor: str,
    now: datetime,
    renderer: Renderer | None = None,
) -> EditionRow:
    """Freeze the edition as it stands (renditions + fingerprint) and mark it approved."""
    renderer = _renderer(settings, renderer)
    with store.session() as session:
        row = _get(session, edition_id)
        if row.status == EditionStatus.DRAFT and row.newsletter in settings.newsletters:
            recompose_row(settings, session, row, now, renderer)
        lifecycle.transition(session, row, EditionStatus.APPROVED, actor=actor, now=now)
        row.fingerprint = fingerprint(row)
        session.flush()
        session.expunge(row)
        return row


def decide(
    store: Store, edition_id: int, to: EditionStatus, *, actor: str, now: datetime
) -> EditionRow:
    """Hold or cancel (any transition that needs no recompose)."""
    with store.session() as session:
        row = _get(session, edition_id)
        lifecycle.transition(session, row, to, actor=actor, now=now)
        session.flush()
        session.expunge(row)
        return row


def _get(session: Session, edition_id: int) -> EditionRow:
    row = session.get(EditionRow, edition_id)
    if row is None:
        raise DigestError(f"edition {edition_id} does not exist")
    return row


def audience_size(settings: Settings, store: Store, newsletter_id: str, now: datetime) -> int:
    """How many subscribers the edition would go to if it were sent now."""
    from digest.subscribers import confirmed_audience

    with store.session() as session:
        return sum(1 for _ in confirmed_audience(session, settings.audience_of(newsletter_id), now))
