"""Jinja filters shared by the email, web and social templates."""

from __future__ import annotations

import functools
import re
import textwrap
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup, escape

from digest.render.plaintext import html_to_text
from digest.sanitize import sanitize_html

SAFE_PREFIXES = ("http://", "https://", "mailto:")
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
# nh3 keeps <img> as given; an image without alt text gets an empty (decorative) one.
IMG_WITHOUT_ALT = re.compile(r"(<img(?![^>]*\salt=)[^>]*?)(?=\s*/?>)")
PLATFORM_NAMES = {"bluesky": "Bluesky", "x": "X"}
# English, like the rest of the email's words (strftime's %B follows the C locale).
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def clean_html(value: str) -> str:
    """The one allowlist (digest.sanitize, as when items were collected), and alt=""
    on images that have no alt text."""
    cleaned = sanitize_html(value)
    return IMG_WITHOUT_ALT.sub(r'\1 alt=""', cleaned) if "<img" in cleaned else cleaned


def safe_html(value: str | None) -> Markup:
    """Item HTML is sanitized when collected; clean again here because it is cheap (nh3)."""
    if not value:
        return Markup("")
    return Markup(clean_html(str(value)))


def safe_url(value: str | None) -> str:
    """The URL if it is http(s) or mailto, else "" (so templates render no link)."""
    url = str(value or "").strip()
    return url if url[:8].lower().startswith(SAFE_PREFIXES) else ""


def html_escape(value: object) -> str:
    """What ``markupsafe.escape`` gives, as a plain str."""
    return str(escape(value))


def link_to(text: object, url: str | None, style: str = "") -> Markup:
    """``text`` as a link to ``url`` when the URL is safe, else just the (escaped) text."""
    return anchor(text, safe_url(url), style_attr(str(style)) if style else "")


def style_attr(style: str) -> str:
    """`` style="…"``, escaped (the same few styles, on many links)."""
    return f' style="{html_escape(style)}"'


def anchor(text: object, href: str, attrs: str = "") -> Markup:
    """``link_to`` for a URL already checked with safe_url ("" for none) and attributes
    already escaped."""
    if not href:
        return escape(text)
    return Markup(f'<a href="{html_escape(href)}"{attrs}>{html_escape(text)}</a>')


def domain(value: str | None) -> str:
    host = urlsplit(str(value or "")).hostname or ""
    return host.removeprefix("www.")


def post_text(value: str | None, link_style: str = "") -> Markup:
    """Plain post text (untrusted) → escaped HTML with its web links made clickable."""
    return linked_text(str(value or ""), style_attr(str(link_style)) if link_style else "")


def linked_text(text: str, attrs: str = "") -> Markup:
    """``post_text`` with the links' attributes already escaped."""
    out: list[str] = []
    last = 0
    for match in URL_IN_TEXT.finditer(text):
        url = match.group(0)
        shown = html_escape(_shorten(url))
        before = html_escape(text[last : match.start()])
        out.append(f'{before}<a href="{html_escape(url)}"{attrs}>{shown}</a>')
        last = match.end()
    out.append(html_escape(text[last:]))
    return Markup("".join(out).replace("\n", "<br>"))


def _shorten(url: str, limit: int = 40) -> str:
    bare = url.split("://", 1)[-1]
    return bare if len(bare) <= limit else bare[: limit - 1] + "…"


def platform_name(value: str | None) -> str:
    """ "Bluesky", "X", or the name as given, title-cased."""
    name = str(value or "")
    return PLATFORM_NAMES.get(name.lower()) or name.title()


def first_image(media: Any) -> Any:
    """The first Media with a safe URL, or None."""
    for entry in media or ():
        if safe_url(getattr(entry, "url", None)):
            return entry
    return None


def wrap(value: str | None, width: int = 72, prefix: str = "") -> str:
    """Wrap each paragraph to ``width``, every line starting with ``prefix``; paragraphs
    stay apart by a line holding only the prefix (without its trailing spaces). Line
    breaks and list items ("- item", from html_to_text) inside a paragraph stay as they
    were written; an item's wrapped lines hang under its text. Words are never split."""
    wrapped = [
        "\n".join(_wrap_lines(paragraph, width, prefix))
        for paragraph in str(value or "").split("\n\n")
        if paragraph.strip()
    ]
    return f"\n{prefix.rstrip()}\n".join(wrapped)


def _wrap_lines(paragraph: str, width: int, prefix: str) -> list[str]:
    out: list[str] = []
    for line in paragraph.split("\n"):
        words = line.split()
        if not words:
            continue
        hang = "  " if words[0] == "-" else ""
        out.append(
            textwrap.fill(
                " ".join(words),
                max(width, len(prefix) + len(hang) + 1),
                initial_indent=prefix,
                subsequent_indent=prefix + hang,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return out


@jinja2.pass_context
def local_date(
    context: jinja2.runtime.Context, value: datetime | date | str | None, style: str = "long"
) -> str:
    """A date in the newsletter's time zone (context var ``timezone``, default UTC).

    Curated data may hold a date or an ISO string; anything unparsable is shown as is.
    """
    return format_date(value, context.get("timezone") or "UTC", style)


def format_date(value: datetime | date | str | None, timezone: str, style: str = "long") -> str:
    """``local_date`` without a template context."""
    if value is None or value == "":
        return ""
    local: date
    if isinstance(value, str):
        try:
            local = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        local = value
    if isinstance(local, datetime) and local.tzinfo:
        local = local.astimezone(_zone(timezone))
    if style == "short":
        return f"{MONTHS[local.month - 1][:3]} {local.day}"
    if style == "iso":
        return f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
    return f"{MONTHS[local.month - 1]} {local.day}, {local.year}"


@functools.lru_cache(maxsize=32)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def date_range(context: Any, start: datetime, end: datetime) -> str:
    """'November 13–20, 2026', 'October 30 – November 6, 2026', or both years in full."""
    zone = _zone(context.get("timezone") or "UTC")
    first, last = start.astimezone(zone), end.astimezone(zone)
    if first.date() == last.date():
        return format_date(last, zone.key)
    if first.year != last.year:
        return f"{format_date(first, zone.key)} – {format_date(last, zone.key)}"
    if first.month != last.month:
        return f"{MONTHS[first.month - 1]} {first.day} – {format_date(last, zone.key)}"
    return f"{MONTHS[first.month - 1]} {first.day}–{last.day}, {last.year}"


def plain(value: str | None) -> str:
    """HTML → readable plain text (for .txt templates)."""
    return html_to_text(str(value or ""))


def underline(value: str, char: str = "=") -> str:
    """A heading underlined to its own length, for the text part."""
    text = str(value)
    return f"{text}\n{char * len(text)}"


def install(env: jinja2.Environment) -> None:
    env.filters.update(
        safe_html=safe_html,
        safe_url=safe_url,
        link_to=link_to,
        domain=domain,
        post_text=post_text,
        platform_name=platform_name,
        local_date=local_date,
        date_range=jinja2.pass_context(date_range),
        plain=plain,
        underline=underline,
        wrap=wrap,
        first_image=first_image,
    )
