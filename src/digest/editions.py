"""Editions: one newsletter for one period, frozen once built.

The frozen row holds the sections (items included), the rendered email HTML and text
(with recipient placeholders) and the archive page, so a resend, a retry or a crash
never changes what subscribers get.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.errors import DigestError, TemplateError
from digest.formats import build_sections
from digest.models import Edition, Section
from digest.render import placeholders
from digest.store import Store
from digest.store.tables import EditionRow
from digest.timing import Period

if TYPE_CHECKING:
    from digest.render import Renderer


def subject_for(settings: Settings, newsletter_id: str, period: Period) -> str:
    newsletter = settings.newsletters[newsletter_id]
    date = f"{period.end:%B} {period.end.day}, {period.end.year}"
    return newsletter.subject.format(title=newsletter.title, date=date)


def compose_edition(
    settings: Settings, session: Session, newsletter_id: str, period: Period
) -> Edition:
    """The edition's content for a period, not yet rendered or stored."""
    return Edition(
        newsletter=newsletter_id,
        title=settings.newsletters[newsletter_id].title,
        subject=subject_for(settings, newsletter_id, period),
        period_start=period.start,
        period_end=period.end,
        sections=build_sections(settings, session, newsletter_id, period),
    )


def has_news(edition: Edition) -> bool:
    """Curated profiles and political data alone are not news: items are."""
    return edition.item_count > 0


def render_into(edition: Edition, renderer: Renderer) -> Edition:
    if not edition.markers:  # per-edition recipient markers (see render.placeholders)
        edition.markers = placeholders.new_nonce()
    try:
        rendered = renderer.email(edition)
    except TemplateError as exc:
        culprit = _culprit(edition, renderer)
        if culprit is None:
            raise
        raise TemplateError(f"{culprit}: {exc}") from exc
    edition.html, edition.text = rendered.html, rendered.text
    edition.web_html = renderer.web_page(edition)
    return edition


def _culprit(edition: Edition, renderer: Renderer) -> str | None:
    """Which item makes the email fail to render: each is tried alone (error path only)."""
    for section in edition.sections:
        for item in [*section.items, *(i for g in section.groups for i in g.items)]:
            alone = Section(section.format_id, section.title, section.intro, section.template)
            alone.items = [item]
            trial = dataclasses.replace(edition, sections=[alone])
            try:
                renderer.email(trial)
            except TemplateError:
                return f"item '{item.title[:80]}' ({item.guid}) from source '{item.source_id}'"
            except DigestError:
                continue  # a check on the whole email (size, footer), not this item
    return None


def find_edition(session: Session, newsletter_id: str, period_key: str) -> EditionRow | None:
    return session.scalars(
        select(EditionRow).where(
            EditionRow.newsletter == newsletter_id, EditionRow.period_key == period_key
        )
    ).first()


def edition_from_row(row: EditionRow, period_tz: str) -> Edition:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(period_tz)
    return Edition(
        id=row.id,
        newsletter=row.newsletter,
        title=row.title,
        subject=row.subject,
        period_start=row.period_start.astimezone(zone),
        period_end=row.period_end.astimezone(zone),
        sections=[Section.from_dict(s) for s in row.sections],
        html=row.html,
        text=row.text,
        web_html=row.web_html,
        markers=row.markers,
    )


def load_edition(settings: Settings, store: Store, edition_id: int) -> Edition | None:
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        if row is None:
            return None
        return edition_from_row(row, settings.newsletters[row.newsletter].timezone)


def build_edition(
    settings: Settings,
    store: Store,
    newsletter_id: str,
    period: Period,
    *,
    now: datetime,
    renderer: Renderer | None = None,
) -> Edition | None:
    """Build and freeze the period's edition, or return the one already frozen.

    Returns None when the period has nothing new and the newsletter does not send
    empty editions; nothing is stored then, so a later collect can still fill it.
    """
    newsletter = settings.newsletters[newsletter_id]
    with store.session() as session:
        existing = find_edition(session, newsletter_id, period.key)
        if existing is not None:
            return edition_from_row(existing, newsletter.timezone)
        edition = compose_edition(settings, session, newsletter_id, period)
        if not has_news(edition) and not newsletter.send_empty:
            session.rollback()
            return None
        if renderer is None:
            from digest.render import Renderer

            renderer = Renderer(settings)
        render_into(edition, renderer)
        row = _row_for(edition, period, now, needs_approval=newsletter.approval is not None)
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # another process froze this period first: use theirs
            session.rollback()
            return _reload(settings, store, newsletter_id, period)
        edition.id = row.id
        return edition


def _reload(settings: Settings, store: Store, newsletter_id: str, period: Period) -> Edition:
    with store.session() as session:
        row = find_edition(session, newsletter_id, period.key)
        assert row is not None
        return edition_from_row(row, settings.newsletters[newsletter_id].timezone)


def _row_for(edition: Edition, period: Period, now: datetime, needs_approval: bool) -> EditionRow:
    return EditionRow(
        newsletter=edition.newsletter,
        period_key=period.key,
        period_start=period.start,
        period_end=period.end,
        title=edition.title,
        subject=edition.subject,
        status="draft" if needs_approval else "approved",
        sections=[s.to_dict() for s in edition.sections],
        html=edition.html,
        text=edition.text,
        web_html=edition.web_html,
        markers=edition.markers,
        created_at=now,
    )


def preview_edition(
    settings: Settings,
    store: Store,
    newsletter_id: str,
    period: Period,
    renderer: Renderer | None = None,
) -> Edition:
    """Render what the period's edition would be, changing nothing in the store."""
    with store.session() as session:
        existing = find_edition(session, newsletter_id, period.key)
        if existing is not None:
            return edition_from_row(existing, settings.newsletters[newsletter_id].timezone)
    with store.scratch() as session:
        edition = compose_edition(settings, session, newsletter_id, period)
    if renderer is None:
        from digest.render import Renderer

        renderer = Renderer(settings)
    return render_into(edition, renderer)
