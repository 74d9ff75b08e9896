"""The static archive: one page per edition, an index and an Atom feed per newsletter.

Pages are written under ``<output_dir>/site/`` with relative links, so the folder can
be served by any web server (or opened from disk). The web app serves the same pages
dynamically through ``render_archive_index`` and ``render_feed``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from digest.config import Settings
from digest.models import Edition, Section
from digest.render import Renderer
from digest.render.display import signup_box
from digest.store import Store
from digest.store.tables import EditionRow
from digest.urls import archive_url, edition_path, edition_url, feed_url

# Editions still waiting for a reviewer are not public yet.
UNPUBLISHED = ("draft", "held")


@dataclass(frozen=True)
class ArchiveEntry:
    """One published edition, as listed in the archive index and the feed."""

    newsletter: str
    title: str
    subject: str
    period_start: datetime
    period_end: datetime
    updated: datetime
    path: str  # e.g. archive/weekly/2026-11-20/
    url: str  # absolute
    section_titles: tuple[str, ...]
    web_html: str
    headline: str = ""  # the edition's own (editorial) headline, when it has one

    @property
    def slug(self) -> str:
        """The edition's folder relative to its newsletter's archive index."""
        return self.path.rstrip("/").rsplit("/", 1)[-1] + "/"


def archive_entries(
    settings: Settings, store: Store, newsletter_id: str, renderer: Renderer | None = None
) -> list[ArchiveEntry]:
    """Published editions of a newsletter, newest first (``renderer`` renders the pages
    of older rows that have none stored; made on demand when not given)."""
    query = (
        select(EditionRow)
        .where(EditionRow.newsletter == newsletter_id, EditionRow.status.not_in(UNPUBLISHED))
        .order_by(EditionRow.period_end.desc())
    )
    with store.session() as session:
        rows = session.scalars(query).all()
        return [_entry(settings, row, renderer) for row in rows]


def _entry(settings: Settings, row: EditionRow, renderer: Renderer | None) -> ArchiveEntry:
    titles = tuple(str(s.get("title", "")) for s in row.sections or [] if isinstance(s, dict))
    return ArchiveEntry(
        newsletter=row.newsletter,
        title=row.title,
        subject=row.subject,
        period_start=row.period_start,
        period_end=row.period_end,
        updated=row.sent_at or row.approved_at or row.created_at or row.period_end,
        path=edition_path(row.newsletter, row.period_end),
        url=edition_url(settings, row.newsletter, row.period_end),
        section_titles=titles,
        web_html=row.web_html or _render_page(renderer or Renderer(settings), row),
        headline=row.headline or "",
    )


def _render_page(renderer: Renderer, row: EditionRow) -> str:
    """Older rows without a stored page: render it again from the frozen sections."""
    edition = Edition(
        newsletter=row.newsletter,
        title=row.title,
        subject=row.subject,
        period_start=row.period_start,
        period_end=row.period_end,
        sections=[Section.from_dict(s) for s in row.sections or []],
        id=row.id,
    )
    return renderer.web_page(edition)


def _newsletter_context(settings: Settings, newsletter_id: str) -> dict[str, object]:
    newsletter = settings.newsletters.get(newsletter_id)
    return {
        "newsletter_id": newsletter_id,
        "newsletter_title": newsletter.title if newsletter else newsletter_id,
        "newsletter_description": newsletter.description if newsletter else "",
        "timezone": newsletter.timezone if newsletter else "UTC",
        "archive_url": archive_url(settings, newsletter_id),
        "feed_url": feed_url(settings, newsletter_id),
        "lang": settings.organization.language,
        "cta": signup_box(settings, newsletter_id),
    }


def render_archive_index(
    settings: Settings,
    newsletter_id: str,
    entries: list[ArchiveEntry],
    renderer: Renderer | None = None,
) -> str:
    """The newsletter's archive page (newest first); links are relative to it."""
    renderer = renderer or Renderer(settings)
    context = _newsletter_context(settings, newsletter_id)
    return renderer.render_template("web/archive_index.html.j2", entries=entries, **context)


def render_feed(
    settings: Settings,
    newsletter_id: str,
    entries: list[ArchiveEntry],
    renderer: Renderer | None = None,
) -> str:
    """An Atom feed of the newsletter's editions."""
    renderer = renderer or Renderer(settings)
    context = _newsletter_context(settings, newsletter_id)
    updated = max((e.updated for e in entries), default=datetime(1970, 1, 1, tzinfo=UTC))
    return renderer.render_template(
        "web/feed.xml.j2", entries=entries, feed_updated=updated, **context
    )


def latest_entry(settings: Settings, store: Store, newsletter_id: str) -> ArchiveEntry | None:
    """The newsletter's newest published edition, or None."""
    query = (
        select(EditionRow)
        .where(EditionRow.newsletter == newsletter_id, EditionRow.status.not_in(UNPUBLISHED))
        .order_by(EditionRow.period_end.desc())
        .limit(1)
    )
    with store.session() as session:
        row = session.scalars(query).first()
        return _entry(settings, row, None) if row is not None else None


def newsletter_cards(settings: Settings, store: Store | None) -> list[dict[str, object]]:
    """What the front page says to sell each newsletter: its description, its latest
    edition (headline, date, link) and an inline sign-up box."""
    cards: list[dict[str, object]] = []
    for key, nl in settings.newsletters.items():
        latest = latest_entry(settings, store, key) if store is not None else None
        cards.append(
            {
                "id": key,
                "title": nl.title,
                "description": nl.description,
                "latest": latest,
                "cta": {**signup_box(settings, key), "description": ""},  # said above it
            }
        )
    return cards


def render_site_index(
    settings: Settings, renderer: Renderer | None = None, store: Store | None = None
) -> str:
    """The front page: every newsletter with its latest edition, archive, feed, sign-up."""
    renderer = renderer or Renderer(settings)
    return renderer.render_template(
        "web/site_index.html.j2",
        newsletters=newsletter_cards(settings, store),
        lang=settings.organization.language,
        home_url=settings.organization.site_url.rstrip("/") + "/",
    )


def write_site(
    settings: Settings, store: Store, newsletter_id: str, renderer: Renderer | None = None
) -> Path:
    """Write the newsletter's edition pages, archive index, feed and the site index."""
    site = settings.out_dir / "site"
    renderer = renderer or Renderer(settings)
    entries = archive_entries(settings, store, newsletter_id, renderer)
    for entry in entries:
        _write(site / entry.path / "index.html", entry.web_html)
    archive = site / "archive" / newsletter_id
    _write(archive / "index.html", render_archive_index(settings, newsletter_id, entries, renderer))
    _write(archive / "feed.xml", render_feed(settings, newsletter_id, entries, renderer))
    _write(site / "index.html", render_site_index(settings, renderer, store))
    return site


def _write(path: Path, text: str) -> None:
    """Write through a temporary file so a reader never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
