"""Reach: what each edition did, counted without following people (docs/reach.md).

``tracked_html`` is the one place an edition's email links are pointed at the click
redirect; the sender calls it when it loads the frozen edition, so every copy of one
edition carries the same links and test copies (staff's own clicks) carry none.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.models import Section
from digest.reach.links import track_links
from digest.render import placeholders
from digest.store.tables import EditionRow, LinkRow


def tracked_html(settings: Settings, session: Session, row: EditionRow) -> str:
    """The edition's email HTML with its story links through the redirect (and recorded)."""
    if settings.reach.clicks == "off":
        return row.html
    html, links = track_links(
        row.html,
        edition_id=row.id,
        sections=[Section.from_dict(s) for s in row.sections],
        secret=settings.signing_keys(),
        site_url=settings.organization.site_url,
        per_subscriber=settings.reach.clicks == "per_subscriber",
        markers=placeholders.Markers(row.markers or ""),
    )
    # the same frozen HTML always gives the same links: a resumed send rewrites them as-is
    session.execute(delete(LinkRow).where(LinkRow.edition_id == row.id))
    session.add_all(
        LinkRow(
            edition_id=row.id,
            link=link.link,
            url=link.url,
            label=link.label,
            section=link.section,
            group=link.group,
        )
        for link in links
    )
    return html
