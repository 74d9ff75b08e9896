"""Public URLs, in one place so email, social posts, static site and web app agree."""

from __future__ import annotations

from datetime import datetime

from digest.config import Settings


def _base(settings: Settings) -> str:
    return settings.organization.site_url.rstrip("/")


def edition_path(newsletter: str, period_end: datetime) -> str:
    """Path of an edition's archive page, e.g. ``archive/weekly/2026-11-20/``."""
    return f"archive/{newsletter}/{period_end.date().isoformat()}/"


def edition_url(settings: Settings, newsletter: str, period_end: datetime) -> str:
    return f"{_base(settings)}/{edition_path(newsletter, period_end)}"


def archive_url(settings: Settings, newsletter: str) -> str:
    return f"{_base(settings)}/archive/{newsletter}/"


def feed_url(settings: Settings, newsletter: str) -> str:
    return f"{_base(settings)}/archive/{newsletter}/feed.xml"


def unsubscribe_url(settings: Settings, token: str) -> str:
    """RFC 8058 one-click target: GET shows a page, POST unsubscribes."""
    return f"{_base(settings)}/u/{token}"


def preferences_url(settings: Settings, token: str) -> str:
    return f"{_base(settings)}/p/{token}"


def confirm_url(settings: Settings, token: str) -> str:
    return f"{_base(settings)}/confirm/{token}"


def unsubscribe_mailto(settings: Settings, token: str) -> str:
    org = settings.organization
    address = org.unsubscribe_mailto or f"unsubscribe@{org.sender.email.rsplit('@', 1)[-1]}"
    return f"mailto:{address}?subject=unsubscribe%20{token}"
