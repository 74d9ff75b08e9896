"""Tracked links: an edition's email links pointed at the web app's click redirect.

Each link gets an id per edition and link (1, 2, … in the email's order), never per
subscriber unless the organisation turned that on. The redirect token carries the target
URL under the signing key, so the redirect answers without reading the store and only
ever goes where a sent email pointed (never an open redirect).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

from digest.models import Section
from digest.render import placeholders
from digest.signing import SigningKeys, as_keys

# The rendered email's anchors: MJML writes every attribute in double quotes.
ANCHOR_HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)(")', re.IGNORECASE)
SALT = "digest.click"
REDIRECT_PATH = "/r/"
RECIPIENT_SALT = "digest.click-recipient"


@dataclass(frozen=True)
class TrackedLink:
    link: int
    url: str
    label: str = ""
    section: str = ""
    group: str = ""


@dataclass(frozen=True)
class Click:
    """What a redirect token says: which edition's which link, and where it goes."""

    edition_id: int
    link: int
    url: str


def _serializer(keys: str | SigningKeys, salt: str) -> URLSafeSerializer:
    """Signs with the current key; verifies with it and every older key still honoured
    (itsdangerous takes a list of keys, newest last), so links mailed before a key
    rotation keep working."""
    return URLSafeSerializer(list(reversed(as_keys(keys).verifying())), salt=salt)


def click_token(keys: str | SigningKeys, edition_id: int, link: int, url: str) -> str:
    return str(_serializer(keys, SALT).dumps([edition_id, link, url]))


def read_click_token(keys: str | SigningKeys, token: str) -> Click | None:
    """The click a token names, or None when none of our keys signed it."""
    try:
        edition_id, link, url = _serializer(keys, SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not (isinstance(edition_id, int) and isinstance(link, int) and isinstance(url, str)):
        return None
    return Click(edition_id, link, url)


def recipient_token(keys: str | SigningKeys, subscriber_id: int) -> str:
    """The per-subscriber mode's ``?r=`` value: names a subscriber, cannot be forged."""
    return str(_serializer(keys, RECIPIENT_SALT).dumps(subscriber_id))


def read_recipient_token(keys: str | SigningKeys, token: str) -> int | None:
    try:
        subscriber_id = _serializer(keys, RECIPIENT_SALT).loads(token)
    except BadSignature:
        return None
    return subscriber_id if isinstance(subscriber_id, int) else None


def trackable(url: str, site_url: str) -> bool:
    """Web links to stories; not the subscriber's own links, anchors or mail addresses."""
    if "%%DIGEST_" in url.upper():  # a recipient's own link (any edition's markers)
        return False
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return False
    return not url.startswith(site_url.rstrip("/") + REDIRECT_PATH)


def _places(sections: Iterable[Section]) -> dict[str, tuple[str, str, str]]:
    """url → (label, section, group) for every item of the edition, first place wins."""
    places: dict[str, tuple[str, str, str]] = {}
    for section in sections:
        for item in section.items:
            places.setdefault(item.url, (item.title, section.title, ""))
            if item.post is not None:
                places.setdefault(item.post.post_url, (item.title, section.title, ""))
        for group in section.groups:
            if group.url:
                places.setdefault(group.url, (group.heading, section.title, group.heading))
            for item in group.items:
                places.setdefault(item.url, (item.title, section.title, group.heading))
                if item.post is not None:
                    places.setdefault(
                        item.post.post_url, (item.title, section.title, group.heading)
                    )
    return places


def track_links(
    email_html: str,
    *,
    edition_id: int,
    sections: Iterable[Section],
    secret: str | SigningKeys,
    site_url: str,
    per_subscriber: bool = False,
    markers: placeholders.Markers | None = None,
) -> tuple[str, list[TrackedLink]]:
    """The email with its story links through the redirect, and the links it tracks.

    The same URL twice in one email is one link (a headline and its "read more").
    """
    places = _places(sections)
    numbers: dict[str, int] = {}
    links: list[TrackedLink] = []
    base = site_url.rstrip("/") + REDIRECT_PATH

    def wrap(match: re.Match[str]) -> str:
        url = html.unescape(match.group(2))
        if not trackable(url, site_url):
            return match.group(0)
        if url not in numbers:
            numbers[url] = len(numbers) + 1
            own_site = url.startswith(site_url.rstrip("/") + "/")
            label, section, group = places.get(
                url, ("The edition on the website", "", "") if own_site else ("", "", "")
            )
            links.append(TrackedLink(numbers[url], url, label, section, group))
        target = base + click_token(secret, edition_id, numbers[url], url)
        if per_subscriber:
            target += "?r=" + (markers or placeholders.Markers()).click_recipient
        return match.group(1) + html.escape(target, quote=True) + match.group(3)

    return ANCHOR_HREF.sub(wrap, email_html), links
