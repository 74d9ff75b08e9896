"""The public archive: per-newsletter index, each edition's page, and an Atom feed.

Edition pages are the stored ``editions.web_html`` (rendered once when the edition was
built). Only editions that went out are public; drafts and held editions are not.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from digest import urls
from digest.config import Settings
from digest.render import placeholders
from digest.store import Store
from digest.store.tables import EditionRow
from digest.web.pages import page

router = APIRouter()

PUBLISHED = ("sending", "sent", "paused")  # paused mid-send: some readers already have it
ATOM = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class ArchiveEntry:
    id: int
    title: str
    subject: str
    day: date
    url: str  # absolute public URL
    path: str  # path on this server
    published: datetime


def published_editions(settings: Settings, store: Store, newsletter: str) -> list[ArchiveEntry]:
    """Newest first."""
    zone = ZoneInfo(settings.newsletters[newsletter].timezone)
    with store.session() as session:
        rows = session.scalars(
            select(EditionRow)
            .where(EditionRow.newsletter == newsletter, EditionRow.status.in_(PUBLISHED))
            .order_by(EditionRow.period_end.desc())
        ).all()
    entries = []
    for row in rows:
        local_end = row.period_end.astimezone(zone)
        entries.append(
            ArchiveEntry(
                id=row.id,
                title=row.title,
                subject=row.subject,
                day=local_end.date(),
                url=urls.edition_url(settings, newsletter, local_end),
                path="/" + urls.edition_path(newsletter, local_end),
                published=row.sent_at or row.approved_at or row.created_at,
            )
        )
    return entries


def _find_edition(settings: Settings, store: Store, newsletter: str, day: date) -> str | None:
    """The edition whose period ends on ``day`` (newsletter's zone, or UTC as stored)."""
    zone = ZoneInfo(settings.newsletters[newsletter].timezone)
    with store.session() as session:
        rows = session.scalars(
            select(EditionRow).where(
                EditionRow.newsletter == newsletter, EditionRow.status.in_(PUBLISHED)
            )
        ).all()
        for row in rows:
            if day in (row.period_end.astimezone(zone).date(), row.period_end.date()):
                return row.web_html
    return None


def public_web_html(web_html: str, settings: Settings) -> str:
    """The page is for everyone: recipient markers, if any slipped in, become neutral."""
    subscribe = settings.organization.site_url.rstrip("/") + "/subscribe"
    return placeholders.fill(
        web_html,
        {
            placeholders.UNSUBSCRIBE_URL: subscribe,
            placeholders.PREFERENCES_URL: subscribe,
            placeholders.SUBSCRIBER_NAME: "",
        },
    )


def _not_found(request: Request) -> HTMLResponse:
    return page(
        request,
        "message.html.j2",
        {"title": "Not found", "message": "There is no page at this address."},
        status_code=404,
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    return page(request, "home.html.j2", {"newsletters": settings.newsletters})


@router.get("/archive/", response_class=HTMLResponse)
def archive_home(request: Request) -> HTMLResponse:
    return home(request)


@router.get("/archive/{newsletter}/", response_class=HTMLResponse)
def archive_index(request: Request, newsletter: str) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    if newsletter not in settings.newsletters:
        return _not_found(request)
    entries = published_editions(settings, request.app.state.store, newsletter)
    return page(
        request,
        "archive_list.html.j2",
        {
            "newsletter_id": newsletter,
            "newsletter": settings.newsletters[newsletter],
            "entries": entries,
            "audience": settings.audience_of(newsletter),
        },
    )


@router.get("/archive/{newsletter}/feed.xml")
def archive_feed(request: Request, newsletter: str) -> Response:
    settings: Settings = request.app.state.settings
    if newsletter not in settings.newsletters:
        return _not_found(request)
    entries = published_editions(settings, request.app.state.store, newsletter)
    return Response(
        atom_feed(settings, newsletter, entries, request.app.state.clock()),
        media_type="application/atom+xml; charset=utf-8",
    )


@router.get("/archive/{newsletter}/{day}/", response_class=HTMLResponse)
def edition_page(request: Request, newsletter: str, day: str) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        return _not_found(request)
    if newsletter not in settings.newsletters or len(day) != 10:
        return _not_found(request)
    html = _find_edition(settings, request.app.state.store, newsletter, wanted)
    if html is None:
        return _not_found(request)
    return HTMLResponse(public_web_html(html, settings))


def atom_feed(
    settings: Settings, newsletter: str, entries: list[ArchiveEntry], now: datetime
) -> bytes:
    """An Atom 1.0 feed (RFC 4287) of the newsletter's published editions."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    config = settings.newsletters[newsletter]
    _text(feed, "title", config.title)
    if config.description:
        _text(feed, "subtitle", config.description)
    _text(feed, "id", urls.archive_url(settings, newsletter))
    updated = max((e.published for e in entries), default=now)
    _text(feed, "updated", updated.isoformat())
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=urls.feed_url(settings, newsletter))
    ET.SubElement(
        feed, f"{{{ATOM}}}link", rel="alternate", href=urls.archive_url(settings, newsletter)
    )
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", settings.organization.name)
    for entry in entries[:50]:
        node = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(node, "title", entry.subject or entry.title)
        _text(node, "id", entry.url)
        _text(node, "updated", entry.published.isoformat())
        _text(node, "published", entry.published.isoformat())
        ET.SubElement(node, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=entry.url)
    body: bytes = ET.tostring(feed, encoding="utf-8")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def _text(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}{tag}").text = value
