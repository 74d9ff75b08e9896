"""The public archive, served live: per-newsletter index, each edition's page, Atom feed.

The pages are the static site's (``digest.site``): edition pages are the stored
``editions.web_html``, and the index and feed are rendered by the same functions that
write ``out/site/``, so the live and static archives always agree.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from digest.config import Settings
from digest.render import placeholders
from digest.site import ArchiveEntry, archive_entries, render_archive_index, render_feed
from digest.web.pages import page
from digest.web.state import renderer_of, settings_of, store_of

router = APIRouter()


def find_entry(entries: list[ArchiveEntry], settings: Settings, day: date) -> ArchiveEntry | None:
    """The edition whose period ends on ``day``, as the URL has it (UTC, as stored) or in
    the newsletter's own time zone (the date its readers saw)."""
    for entry in entries:
        if entry.period_end.date() == day:
            return entry
    for entry in entries:
        zone = ZoneInfo(settings.newsletters[entry.newsletter].timezone)
        if entry.period_end.astimezone(zone).date() == day:
            return entry
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
    settings = settings_of(request)
    return page(request, "home.html.j2", {"newsletters": settings.newsletters})


@router.get("/archive/", response_class=HTMLResponse)
def archive_home(request: Request) -> HTMLResponse:
    return home(request)


@router.get("/archive/{newsletter}/", response_class=HTMLResponse)
def archive_index(request: Request, newsletter: str) -> HTMLResponse:
    settings = settings_of(request)
    if newsletter not in settings.newsletters:
        return _not_found(request)
    renderer = renderer_of(request)
    entries = archive_entries(settings, store_of(request), newsletter, renderer)
    return HTMLResponse(render_archive_index(settings, newsletter, entries, renderer))


@router.get("/archive/{newsletter}/feed.xml")
def archive_feed(request: Request, newsletter: str) -> Response:
    settings = settings_of(request)
    if newsletter not in settings.newsletters:
        return _not_found(request)
    renderer = renderer_of(request)
    entries = archive_entries(settings, store_of(request), newsletter, renderer)
    return Response(
        render_feed(settings, newsletter, entries, renderer),
        media_type="application/atom+xml; charset=utf-8",
    )


@router.get("/archive/{newsletter}/{day}/", response_class=HTMLResponse)
def edition_page(request: Request, newsletter: str, day: str) -> HTMLResponse:
    settings = settings_of(request)
    if newsletter not in settings.newsletters or len(day) != 10:
        return _not_found(request)
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        return _not_found(request)
    entries = archive_entries(settings, store_of(request), newsletter, renderer_of(request))
    entry = find_entry(entries, settings, wanted)
    if entry is None:
        return _not_found(request)
    return HTMLResponse(public_web_html(entry.web_html, settings))
