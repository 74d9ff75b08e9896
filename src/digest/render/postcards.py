"""Collected Bluesky and X posts as static cards: what Bluesky's own embed shows, as
email-safe HTML (tables, inline styles, no script) and as plain text.

A card shows the author (avatar, or their initials when the avatar cannot load or there
is none), display name and @handle, the text with its links, mentions and hashtags as
real links (from the post's facets, by UTF-8 byte offsets), every image with its alt
text (two to a row), the link card (thumbnail, title, description, domain), a quoted
post as a nested card, the date and time in the newsletter's zone, and "View on
Bluesky" linking the post. Bluesky's embed script cannot run in an email, so this is
the static form of it.

Templates call ``{{ item | post_card }}`` and ``{{ item | post_card_text }}``;
the styles come from ``email/inline_styles.j2`` (names in ``STYLE_DEFAULTS``; an override
that lacks a newer name gets the default).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from digest.models import Item, SocialPost
from digest.render.filters import (
    MONTHS,
    domain,
    html_escape,
    linked_text,
    platform_name,
    safe_url,
    style_attr,
)

STYLE_DEFAULTS = {
    "link": "color:#0b4f8a",
    "card": "border:1px solid #d9dde3;border-radius:8px;margin:10px 0",
    "card_cell": "padding:12px 14px",
    "avatar": "border-radius:50%",
    # kept short: it is written once per card, and Gmail clips an email past ~102 KB
    "initials": "width:40px;height:40px;border-radius:50%;background:#0b4f8a;color:#fff;"
    "font:700 15px/40px sans-serif;text-align:center",
    "who": "margin:0;font-size:15px;line-height:1.3",
    "handle": "color:#555b66;font-size:14px",
    "post_text": "margin:10px 0",
    "post_image": "max-width:100%;height:auto;border-radius:6px;margin:4px 0 8px",
    "link_card": "border:1px solid #d9dde3;border-radius:6px;margin:6px 0 8px",
    "link_card_cell": "padding:8px 10px",
    "link_card_title": "margin:0 0 2px;font-size:15px;font-weight:700",
    "link_card_text": "margin:0 0 2px;font-size:14px;color:#3b3f46",
    "quote_card": "border:1px solid #d9dde3;border-radius:6px;margin:6px 0 8px",
    "meta": "font-size:14px;color:#555b66;margin:4px 0 0",
}
PROFILE_URL = {"bluesky": "https://bsky.app/profile/", "x": "https://x.com/"}
TAG_URL = {"bluesky": "https://bsky.app/hashtag/", "x": "https://x.com/hashtag/"}


class CardStyles:
    """The card's style attributes (already escaped), from the email's style module."""

    def __init__(self, module: Any = None) -> None:
        self.attr = {
            name: style_attr(str(getattr(module, name, default)))
            for name, default in STYLE_DEFAULTS.items()
        }

    def __getattr__(self, name: str) -> str:
        try:
            return self.attr[name]
        except KeyError:
            raise AttributeError(name) from None


DEFAULT_STYLES = CardStyles()


# ---------------------------------------------------------------- text and links


def facet_href(kind: str, value: str, platform: str) -> str:
    """Where a facet links: the URL itself, the mentioned profile, the hashtag's feed."""
    if kind == "link":
        return safe_url(value)
    if kind == "mention":
        return PROFILE_URL.get(platform, PROFILE_URL["bluesky"]) + quote(value, safe=":")
    if kind == "tag":
        return TAG_URL.get(platform, TAG_URL["bluesky"]) + quote(value, safe="")
    return ""


def segments(post: SocialPost) -> Iterator[tuple[str, str]]:
    """The post's text as (text, href) runs; href is "" outside a facet. Facets whose
    offsets do not fall on character boundaries are shown as plain text."""
    data = post.text.encode("utf-8")
    last = 0
    for facet in post.facets:
        start, end = int(facet.get("start", -1)), int(facet.get("end", -1))
        if start < last or end <= start or end > len(data):
            continue
        try:
            before, label = data[last:start].decode(), data[start:end].decode()
        except UnicodeDecodeError:
            continue
        href = facet_href(str(facet.get("kind")), str(facet.get("value")), post.platform)
        if before:
            yield before, ""
        yield label, href
        last = end
    rest = data[last:].decode("utf-8", "replace")
    if rest:
        yield rest, ""


def rich_text_html(post: SocialPost, link_attr: str) -> Markup:
    """The text with its facets as links; line breaks kept. A post with no facets
    (an old client, a hand-made record) still gets its bare URLs linked."""
    if not post.facets:
        return linked_text(post.text, link_attr)
    out = []
    for text, href in segments(post):
        shown = html_escape(text).replace("\n", "<br>")
        out.append(f'<a href="{html_escape(href)}"{link_attr}>{shown}</a>' if href else shown)
    return Markup("".join(out))


def rich_text_plain(post: SocialPost) -> str:
    """The text for the plain-text part: a link whose label is not its URL (Bluesky
    shortens them) is followed by the URL in angle brackets."""
    out = []
    for text, href in segments(post):
        out.append(text)
        if href and text.strip() and _shown_differs(text, href, post.platform):
            out.append(f" <{href}>")
    return "".join(out)


def _shown_differs(text: str, href: str, platform: str) -> bool:
    if text.startswith(("#", "@")):
        return False  # hashtags and mentions read as themselves
    return text.strip() != href


# ---------------------------------------------------------------- pieces


def post_time(post: SocialPost, timezone: str) -> str:
    """'November 19, 2026, 10:00 AM EST' in the newsletter's zone ("" when unknown)."""
    if not post.created_at:
        return ""
    try:
        moment = datetime.fromisoformat(post.created_at)
    except ValueError:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(timezone))
    hour = moment.hour % 12 or 12
    noon = "AM" if moment.hour < 12 else "PM"
    zone = moment.tzname() or ""
    day = f"{MONTHS[moment.month - 1]} {moment.day}, {moment.year}"
    return f"{day}, {hour}:{moment.minute:02d} {noon} {zone}".rstrip()


def initials(post: SocialPost) -> str:
    """Up to two letters for the avatar's stand-in: 'Ohio AFL-CIO' → 'OA'."""
    name = post.author_name or post.author_handle.lstrip("@")
    words = [w for w in name.replace("-", " ").split() if w[:1].isalnum()]
    letters = "".join(w[0] for w in words[:2]).upper()
    return letters or "?"


def _avatar(post: SocialPost, s: CardStyles) -> str:
    """The avatar on a coloured disc that shows the initials: a client that blocks or
    cannot load the image shows the alt text, styled as the initials, in its place."""
    letters = html_escape(initials(post))
    url = safe_url(post.avatar_url)
    inner = (
        f'<img src="{html_escape(url)}" alt="{letters}" width="40" height="40"{s.avatar}>'
        if url
        else letters
    )
    return f'<td width="48" valign="top"><div{s.initials}>{inner}</div></td>'


def _byline(post: SocialPost, s: CardStyles, avatar: bool = True) -> str:
    name = html_escape(post.author_name or post.author_handle)
    handle = html_escape(post.author_handle.lstrip("@"))
    who = f"<p{s.who}><strong>{name}</strong><br><span{s.handle}>@{handle}</span></p>"
    cells = (_avatar(post, s) if avatar else "") + f'<td valign="middle">{who}</td>'
    return f'<table role="presentation" cellpadding="0" cellspacing="0"><tr>{cells}</tr></table>'


def _images(post: SocialPost, s: CardStyles) -> str:
    """Every image with its alt text: one full width, more two to a row."""
    images = [i for i in post.images if safe_url(i.get("url"))]
    if not images:
        return ""

    def one(image: dict[str, str], width: str) -> str:
        # one image alone is shown full size; in a grid, the thumbnail (smaller download)
        src = safe_url(image.get("url" if len(images) == 1 else "thumb")) or safe_url(
            image.get("url")
        )
        alt = html_escape(image.get("alt") or "")
        return f'<img src="{html_escape(src)}" alt="{alt}" width="{width}"{s.post_image}>'

    if len(images) == 1:
        return one(images[0], "100%")
    rows = []
    for start in range(0, len(images), 2):
        pair = images[start : start + 2]
        cells = "".join(
            f'<td width="50%" valign="top" style="padding:0 2px">{one(i, "100%")}</td>'
            for i in pair
        )
        if len(pair) == 1:
            cells += '<td width="50%"></td>'
        rows.append(f"<tr>{cells}</tr>")
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0">'
        + "".join(rows)
        + "</table>"
    )


def _link_card(post: SocialPost, s: CardStyles) -> str:
    card = post.external or {}
    uri = safe_url(card.get("uri"))
    if not uri:
        return ""
    href = html_escape(uri)
    title = html_escape(card.get("title") or uri)
    parts = []
    thumb = safe_url(card.get("thumb"))
    if thumb:
        parts.append(
            f'<a href="{href}"><img src="{html_escape(thumb)}" alt="" width="100%"'
            f"{s.post_image}></a>"
        )
    parts.append(f'<p{s.link_card_title}><a href="{href}"{s.link}>{title}</a></p>')
    if card.get("description"):
        parts.append(f"<p{s.link_card_text}>{html_escape(card['description'])}</p>")
    parts.append(f"<p{s.meta}>{html_escape(domain(uri))}</p>")
    return (
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0"{s.link_card}>'
        f"<tr><td{s.link_card_cell}>{''.join(parts)}</td></tr></table>"
    )


def _quote(post: SocialPost, s: CardStyles, timezone: str) -> str:
    quoted = post.quoted
    if quoted is None:
        return ""
    return _card(quoted, s, timezone, style=s.quote_card, nested=True)


def _card(
    post: SocialPost, s: CardStyles, timezone: str, *, style: str, nested: bool = False
) -> str:
    parts = [_byline(post, s, avatar=not nested)]
    if post.text:
        parts.append(f"<p{s.post_text}>{rich_text_html(post, s.link)}</p>")
    parts.append(_images(post, s))
    parts.append(_link_card(post, s))
    if not nested:
        parts.append(_quote(post, s, timezone))
    when = post_time(post, timezone)
    url = safe_url(post.post_url)
    view = f"View on {platform_name(post.platform)}"
    link = f'<a href="{html_escape(url)}"{s.link}>{view}</a>' if url else html_escape(view)
    parts.append(f"<p{s.meta}>{html_escape(when) + ' · ' if when else ''}{link}</p>")
    return (
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0"{style}>'
        f"<tr><td{s.card_cell}>{''.join(parts)}</td></tr></table>"
    )


# ---------------------------------------------------------------- entry points


def card_html(post: SocialPost, timezone: str, styles: CardStyles = DEFAULT_STYLES) -> Markup:
    """The whole card as email-safe HTML."""
    return Markup(_card(post, styles, timezone, style=styles.card))


def card_text(post: SocialPost, timezone: str, prefix: str = "  ") -> str:
    """The card for the plain-text part: byline, time, text (links spelled out),
    images by their alt text, the link card, the quoted post, the post's URL."""
    handle = post.author_handle.lstrip("@")
    who = f"{post.author_name} (@{handle})" if post.author_name else f"@{handle}"
    when = post_time(post, timezone)
    lines = [f"{who} on {platform_name(post.platform)}{', ' + when if when else ''}:"]
    lines.extend(_wrapped(rich_text_plain(post), prefix))
    for image in post.images:
        lines.append(f"{prefix}[Image: {image.get('alt') or 'no description'}]")
    card = post.external or {}
    if safe_url(card.get("uri")):
        lines.append(f"{prefix}Link: {card.get('title') or card['uri']} <{card['uri']}>")
    quoted = post.quoted
    if quoted is not None:
        inner = card_text(quoted, timezone, prefix="").rstrip("\n")
        lines.extend(_wrapped("Quoting " + inner, prefix + "> "))
    if safe_url(post.post_url):
        lines.append(f"{prefix}{post.post_url}")
    return "\n".join(line for line in lines if line.strip()) + "\n"


def _wrapped(text: str, prefix: str) -> list[str]:
    out = []
    for paragraph in text.split("\n"):
        out.extend(
            textwrap.wrap(
                paragraph,
                width=76,
                initial_indent=prefix,
                subsequent_indent=prefix,
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [prefix]
        )
    return out


_STYLES: dict[int, tuple[Any, CardStyles]] = {}


def _styles_of(module: Any) -> CardStyles:
    """CardStyles for an email's style module, built once per compiled module."""
    if module is None:
        return DEFAULT_STYLES
    found = _STYLES.get(id(module))
    if found is None or found[0] is not module:
        found = _STYLES[id(module)] = (module, CardStyles(module))
    return found[1]


def item_post(item: Item) -> SocialPost | None:
    """The item's post, completed from the item for posts stored before cards kept their
    own time and images."""
    post = item.post
    if post is None:
        return None
    changes: dict[str, Any] = {}
    if not post.created_at:
        changes["created_at"] = item.published_at.isoformat()
    if not post.images and item.media:
        changes["images"] = [{"url": m.url, "thumb": m.url, "alt": m.alt} for m in item.media]
    return replace(post, **changes) if changes else post


@jinja2.pass_context
def _post_card_filter(context: Any, item: Item) -> Markup:
    post = item_post(item)
    if post is None:
        return Markup("")
    styles = _styles_of(context.get("style"))
    return card_html(post, str(context.get("timezone") or "UTC"), styles)


@jinja2.pass_context
def _post_card_text_filter(context: Any, item: Item) -> str:
    post = item_post(item)
    if post is None:
        return ""
    return card_text(post, str(context.get("timezone") or "UTC"))


def install(env: jinja2.Environment) -> None:
    env.filters.update(post_card=_post_card_filter, post_card_text=_post_card_text_filter)
