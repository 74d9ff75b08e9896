"""Editions: one newsletter for one period, a draft until approved, then frozen.

The frozen row holds the sections (items included), the rendered email HTML and text
(with recipient placeholders) and the archive page, so a resend, a retry or a crash
never changes what subscribers get.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.errors import DigestError, TemplateError
from digest.formats import build_sections
from digest.models import Edition, Section
from digest.overlay import Overlay
from digest.overlay import apply as apply_overlay
from digest.render import placeholders
from digest.store import Store
from digest.store.tables import EditionRow
from digest.timing import Period

if TYPE_CHECKING:
    from digest.render import Renderer


def subject_for(settings: Settings, newsletter_id: str, period: Period, headline: str = "") -> str:
    """The subject template filled in; ``{headline}`` is the editor's (or the title)."""
    newsletter = settings.newsletters[newsletter_id]
    date = f"{period.end:%B} {period.end.day}, {period.end.year}"
    return newsletter.subject.format(
        title=newsletter.title, date=date, headline=headline or newsletter.title
    )


def compose_edition(
    settings: Settings,
    session: Session,
    newsletter_id: str,
    period: Period,
    overlay: Overlay | None = None,
) -> Edition:
    """The edition's content for a period with the staff's overlay, not yet rendered."""
    overlay = overlay or Overlay()
    edition = Edition(
        newsletter=newsletter_id,
        title=settings.newsletters[newsletter_id].title,
        subject=subject_for(settings, newsletter_id, period, overlay.headline or ""),
        period_start=period.start,
        period_end=period.end,
        sections=build_sections(settings, session, newsletter_id, period),
    )
    return apply_overlay(edition, overlay)


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
        headline=row.headline or "",
        preheader=row.preheader or "",
        note=row.note or "",
        html=row.html,
        text=row.text,
        web_html=row.web_html,
        markers=row.markers,
    )


def preview_edition(
    settings: Settings,
    store: Store,
    newsletter_id: str,
    period: Period,
    renderer: Renderer | None = None,
) -> Edition:
    """Render what the period's edition would be (its draft's edits included), changing
    nothing in the store; a frozen edition is shown as frozen."""
    overlay = Overlay()
    with store.session() as session:
        existing = find_edition(session, newsletter_id, period.key)
        if existing is not None:
            if existing.status != "draft":
                return edition_from_row(existing, settings.newsletters[newsletter_id].timezone)
            overlay = Overlay.from_dict(existing.overlay)
    with store.scratch() as session:
        edition = compose_edition(settings, session, newsletter_id, period, overlay)
    if renderer is None:
        from digest.render import Renderer

        renderer = Renderer(settings)
    return render_into(edition, renderer)
