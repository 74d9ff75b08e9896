"""How an edition is named and summed up wherever people see it.

``edition_headline`` is the one place that decides an edition's display title: the web
page's H1, the archive lists, og:/Twitter card titles, share text, the confirmed page's
link to the latest edition. Today it is the edition's subject (``{title}: {date}``, more
specific than the newsletter's name); an edition with its own headline will use that.
The functions are template globals (``install``), so templates call them by name.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import jinja2

from digest.config import Settings
from digest.render.filters import first_image, safe_url

SUMMARY_LIMIT = 200


def edition_headline(edition: Any) -> str:
    """The display title of an Edition (or an archive entry): headline, subject, title."""
    for name in ("headline", "subject", "title"):
        value = getattr(edition, name, None)
        if value:
            return str(value)
    return ""


def edition_summary(edition: Any, fallback: str = "") -> str:
    """A sentence for link cards: the first stories' titles, else ``fallback``."""
    titles = [str(item.title) for item in _items(edition) if getattr(item, "title", "")]
    if not titles:
        return fallback
    text = "In this edition: " + "; ".join(titles[:3])
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def edition_image(edition: Any, fallback: str | None = None) -> str | None:
    """The first story image with a safe https URL, for og:image; else ``fallback``."""
    for item in _items(edition):
        image = first_image(getattr(item, "media", None))
        if image is not None and str(image.url).startswith("https://"):
            return str(image.url)
    return safe_url(fallback) if fallback else None


def share_links(url: str, text: str) -> list[dict[str, str]]:
    """Plain share links (no scripts, nothing loaded from the networks until clicked)."""
    bluesky = urlencode({"text": f"{text} {url}"})
    x = urlencode({"text": text, "url": url})
    return [
        {"label": "Bluesky", "href": f"https://bsky.app/intent/compose?{bluesky}"},
        {"label": "X", "href": f"https://x.com/intent/post?{x}"},
        {
            "label": "Facebook",
            "href": "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": url}),
        },
        {
            "label": "LinkedIn",
            "href": "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": url}),
        },
        {"label": "Email", "href": f"mailto:?subject={quote(text)}&body={quote(url)}"},
    ]


def signup_box(settings: Settings, newsletter_id: str) -> dict[str, str]:
    """What the inline sign-up box (web/_subscribe_cta.html.j2) needs for one newsletter."""
    newsletter = settings.newsletters.get(newsletter_id)
    if newsletter is None:
        return {"list": newsletter_id, "title": newsletter_id, "description": ""}
    return {
        "list": settings.audience_of(newsletter_id),
        "title": newsletter.title,
        "description": newsletter.description or "",
    }


def _items(edition: Any) -> list[Any]:
    items: list[Any] = []
    for section in getattr(edition, "sections", None) or []:
        items.extend(section.items)
        for group in section.groups:
            items.extend(group.items)
    return items


def install(env: jinja2.Environment) -> None:
    env.globals.update(
        edition_headline=edition_headline,
        edition_summary=edition_summary,
        edition_image=edition_image,
        share_links=share_links,
    )
