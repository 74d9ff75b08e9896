"""What the email templates show of each item, computed once per rendered email.

The MJML and the text template both need an item's safe URL, local date, sanitized
summary and its plain text. ``EmailView`` (one per ``Renderer.email`` call, in the
context as ``views``) computes each value on first use and keeps it for the other pass.
Item HTML is sanitized again (nh3) and its tags get the email's inline styles here, so
no CSS inliner has to run over the compiled email.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any

from markupsafe import Markup

from digest.errors import TemplateError
from digest.models import Group, Item, Media, Section, SocialPost
from digest.render.filters import (
    anchor,
    clean_html,
    format_date,
    linked_text,
    platform_name,
    safe_url,
    style_attr,
)
from digest.render.plaintext import html_to_text
from digest.render.templates import STYLES_TEMPLATE

# The inline styles the renderer itself writes (item HTML, links made in Python).
FRAGMENT_STYLES = ("link", "p", "quoted_p", "blockquote", "img")
# Start tags of sanitized HTML that get a style (quoted values may hold '>'), and the
# end of a blockquote (paragraphs inside one get the quoted style).
STYLED_TAG = re.compile(
    r"""<(?:(p|a|img|blockquote)\b((?:[^>"']+|"[^"]*"|'[^']*')*)|/blockquote\s*)>"""
)


@dataclass(frozen=True)
class FragmentStyles:
    """The style="" values for tags inside item HTML, from email/inline_styles.j2."""

    link: str
    p: str
    quoted_p: str
    blockquote: str
    img: str

    @property
    def link_attr(self) -> str:
        """The link style as an escaped attribute, for anchor()."""
        return style_attr(self.link)

    @classmethod
    def from_module(cls, module: Any) -> FragmentStyles:
        missing = [name for name in FRAGMENT_STYLES if not hasattr(module, name)]
        if missing:
            raise TemplateError(f"{STYLES_TEMPLATE} does not set {', '.join(missing)}")
        return cls(**{name: str(getattr(module, name)) for name in FRAGMENT_STYLES})

    def apply(self, html: str, quoted: bool) -> str:
        """Sanitized HTML with each p, a, img and blockquote styled as the email's own.

        A paragraph inside a blockquote (ours when ``quoted``, or the item's) gets the
        quoted paragraph style, as the CSS rule ``blockquote p`` did.
        """
        depth = 1 if quoted else 0

        def styled(match: re.Match[str]) -> str:
            nonlocal depth
            name, given = match.group(1), match.group(2)
            if name is None:  # </blockquote>
                depth -= 1
                return match.group(0)
            given = given.rstrip().removesuffix("/").rstrip() if given else ""
            if name == "p":
                return f"<p{given}{style_attr(self.quoted_p if depth > 0 else self.p)}>"
            if name == "blockquote":
                depth += 1
            return f"<{name}{given}{style_attr(getattr(self, 'link' if name == 'a' else name))}>"

        return STYLED_TAG.sub(styled, html)


class PostView:
    """A social post's card values."""

    def __init__(self, post: SocialPost, styles: FragmentStyles) -> None:
        self.post = post
        self.avatar = safe_url(post.avatar_url)
        self.name = post.author_name or post.author_handle
        self.handle = post.author_handle.replace("@", "", 1)
        self.byline = (
            f"{post.author_name} (@{self.handle})" if post.author_name else f"@{self.handle}"
        )
        self.platform = platform_name(post.platform)
        self.url = safe_url(post.post_url)
        self.text = post.text
        self.text_html = linked_text(post.text, styles.link_attr) if post.text else Markup("")
        # "View on Bluesky", linked to the post when its URL is safe.
        self.view_link = anchor(f"View on {self.platform}", self.url, styles.link_attr)


class ItemView:
    """One item as the email shows it; each value computed on first use."""

    def __init__(self, item: Item, email: EmailView) -> None:
        self.item = item
        self.title = item.title
        self.url = safe_url(item.url)
        self.origin = item.origin.name
        self.has_summary = bool(item.summary)
        self.post = PostView(item.post, email.styles) if item.post else None
        self._email = email

    @cached_property
    def title_link(self) -> Markup:
        return anchor(self.title, self.url, self._email.styles.link_attr)

    @cached_property
    def summary_html(self) -> Markup:
        return self._email.html(self.item.summary)

    @cached_property
    def quoted_summary_html(self) -> Markup:
        """The summary for inside a blockquote (its paragraphs styled as quoted)."""
        return self._email.html(self.item.summary, quoted=True)

    @cached_property
    def body_html(self) -> Markup:
        """The body, or the summary when there is no body."""
        return self._email.html(self.item.body or self.item.summary)

    @cached_property
    def summary_text(self) -> str:
        return self._email.text(self.item.summary)

    @cached_property
    def body_text(self) -> str:
        return self._email.text(self.item.body or self.item.summary)

    @cached_property
    def date(self) -> str:
        """Publication date, long style, in the newsletter's time zone."""
        return self._email.date(self.item.published_at)

    @cached_property
    def card_image(self) -> str:
        """The URL of the post's first image, if safe (a card shows at most one)."""
        return safe_url(self.item.media[0].url) if self.item.media else ""

    @cached_property
    def first_alt(self) -> str:
        """The first image's alt text (the card's image; the text part names it too)."""
        return self.item.media[0].alt if self.item.media else ""

    @cached_property
    def image(self) -> Media | None:
        """The first image with a safe URL (the spotlight's picture)."""
        return next((m for m in self.item.media if safe_url(m.url)), None)

    @cached_property
    def quote(self) -> str:
        """A pull quote (Worker Wins), from ``extra``."""
        return str(self.item.extra.get("quote") or "")

    @cached_property
    def quote_by(self) -> str:
        return str(self.item.extra.get("quote_by") or "")


class Record:
    """A section's curated data (dicts and lists from YAML) with attribute access:
    ``d.deadlines``, ``dl.state``; a missing key reads as None, as ``.get()`` gives."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update({str(key): _record(value) for key, value in data.items()})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # copy, pickle and friends probe for these
        return None


def _record(value: Any) -> Any:
    if isinstance(value, dict):
        return Record(value)
    if isinstance(value, (list, tuple)):
        return [_record(entry) for entry in value]
    return value


@dataclass(frozen=True)
class GroupView:
    group: Group
    heading_html: Markup
    items: list[ItemView]


class EmailView:
    """What the email templates read (``views`` in their context): one ItemView per
    item, shared by both passes, and ``views.html``, ``views.text``, ``views.date``,
    ``views.link`` for values the templates pass in."""

    def __init__(self, styles: FragmentStyles, timezone: str) -> None:
        self.styles = styles
        self.timezone = timezone
        self._views: dict[int, ItemView] = {}  # by id(): items are not hashable

    def of(self, item: Item) -> ItemView:
        view = self._views.get(id(item))
        if view is None or view.item is not item:
            view = self._views[id(item)] = ItemView(item, self)
        return view

    def items(self, section: Section) -> list[ItemView]:
        return [self.of(item) for item in section.items]

    def groups(self, section: Section) -> list[GroupView]:
        return [
            GroupView(group, self.link(group.heading, group.url), [self.of(i) for i in group.items])
            for group in section.groups
        ]

    def data(self, section: Section) -> Record:
        """``section.data`` as a Record."""
        return Record(section.data)

    def link(self, text: object, url: str | None) -> Markup:
        """``link_to`` with the email's link style."""
        return anchor(text, safe_url(url), self.styles.link_attr)

    def html(self, value: str | None, quoted: bool = False) -> Markup:
        """Untrusted HTML sanitized (again) and styled for the email."""
        if not value:
            return Markup("")
        return Markup(self.styles.apply(clean_html(str(value)), quoted))

    def text(self, value: str | None) -> str:
        """Readable plain text of untrusted HTML (sanitized first)."""
        return html_to_text(clean_html(str(value))) if value else ""

    def date(self, value: datetime | date | str | None, style: str = "long") -> str:
        return format_date(value, self.timezone, style)
