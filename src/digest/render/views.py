"""What the email templates show of each item, computed once per rendered email.

The MJML and the text template both need an item's safe URL, local date, sanitized
summary and its plain text. ``EmailView`` (one per ``Renderer.email`` call, in the
context as ``views``) computes each value on first use and keeps it for the other pass;
item HTML is sanitized again (nh3) once per distinct string in the email. Its tags get
the email's inline styles here, so no CSS inliner has to run over the compiled email.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any, Generic, TypeVar

from markupsafe import Markup

from digest.errors import TemplateError
from digest.models import Group, Item, Media, Section, SocialPost
from digest.render.filters import (
    anchor,
    clean_html,
    format_date,
    linked_text,
    markup,
    platform_name,
    safe_url,
    style_attr,
)
from digest.render.plaintext import html_to_text
from digest.render.templates import STYLES_TEMPLATE

# The inline styles the renderer itself writes (item HTML, links made in Python).
V = TypeVar("V")
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

    @cached_property
    def link_attr(self) -> str:
        """The link style as an escaped attribute, for anchor()."""
        return style_attr(self.link)

    @classmethod
    def from_module(cls, module: Any) -> FragmentStyles:
        missing = [name for name in FRAGMENT_STYLES if not hasattr(module, name)]
        if missing:
            raise TemplateError(f"{STYLES_TEMPLATE} does not set {', '.join(missing)}")
        return cls(**{name: str(getattr(module, name)) for name in FRAGMENT_STYLES})

    @cached_property
    def _attrs(self) -> dict[str, str]:
        """The end of each styled start tag: its escaped style attribute and '>'."""
        return {
            "p": style_attr(self.p) + ">",
            "quoted_p": style_attr(self.quoted_p) + ">",
            "a": self.link_attr + ">",
            "img": style_attr(self.img) + ">",
            "blockquote": style_attr(self.blockquote) + ">",
        }

    def apply(self, html: str, quoted: bool) -> str:
        """Sanitized HTML with each p, a, img and blockquote styled as the email's own.

        A paragraph inside a blockquote (ours when ``quoted``, or the item's) gets the
        quoted paragraph style, as the CSS rule ``blockquote p`` did.
        """
        attrs = self._attrs
        opened = html.count("<p>")
        if opened and html.count("</p>") == opened and html.count("<") == 2 * opened:
            # bare paragraphs only (the usual excerpt): every tag is <p> or </p>
            return html.replace("<p>", "<p" + attrs["quoted_p" if quoted else "p"])
        depth = [1 if quoted else 0]

        def styled(match: re.Match[str]) -> str:
            name, given = match.group(1), match.group(2)
            if name is None:  # </blockquote>
                depth[0] -= 1
                return match.group(0)
            if given:
                given = given.rstrip().removesuffix("/").rstrip()
            if name == "p":
                return f"<p{given}" + attrs["quoted_p" if depth[0] > 0 else "p"]
            if name == "blockquote":
                depth[0] += 1
            return f"<{name}{given}" + attrs[name]

        return STYLED_TAG.sub(styled, html)


class lazy(Generic[V]):
    """Like functools.cached_property without its lock (Python 3.11 takes one per first
    access, which costs more than most of the values computed here)."""

    def __init__(self, compute: Callable[[Any], V]) -> None:
        self.compute = compute
        self.name = compute.__name__

    def __get__(self, owner: Any, owner_type: type | None = None) -> V:
        value = owner.__dict__[self.name] = self.compute(owner)
        return value


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
    """One item as the email shows it; values both passes need are computed at once,
    the others on first use."""

    def __init__(self, item: Item, email: EmailValues) -> None:
        self.item = item
        self.title = item.title
        self.url = safe_url(item.url)
        self.origin = item.origin.name
        self.has_summary = bool(item.summary)
        self.post = PostView(item.post, email.styles) if item.post else None
        self._email = email
        # Set here what the default templates show of every item (a lazy value costs
        # a descriptor call on first use); the rest is computed on first use.
        if self.post is None:
            self.title_link = anchor(self.title, self.url, email.styles.link_attr)
        else:  # a post card: its date and its first image, if any
            self.date = email.date(item.published_at)
            first = item.media[0] if item.media else None
            self.card_image = safe_url(first.url) if first else ""
            self.first_alt = first.alt if first else ""

    @lazy
    def title_link(self) -> Markup:
        return anchor(self.title, self.url, self._email.styles.link_attr)

    @lazy
    def summary_html(self) -> Markup:
        return self._email.html(self.item.summary)

    @lazy
    def quoted_summary_html(self) -> Markup:
        """The summary for inside a blockquote (its paragraphs styled as quoted)."""
        return self._email.html(self.item.summary, quoted=True)

    @lazy
    def body_html(self) -> Markup:
        """The body, or the summary when there is no body."""
        return self._email.html(self.item.body or self.item.summary)

    @lazy
    def summary_text(self) -> str:
        return self._email.text(self.item.summary)

    @lazy
    def body_text(self) -> str:
        return self._email.text(self.item.body or self.item.summary)

    @lazy
    def date(self) -> str:
        """Publication date, long style, in the newsletter's time zone."""
        return self._email.date(self.item.published_at)

    @lazy
    def card_image(self) -> str:
        """The URL of the post's first image, if safe (a card shows at most one)."""
        return safe_url(self.item.media[0].url) if self.item.media else ""

    @lazy
    def first_alt(self) -> str:
        """The first image's alt text (the card's image; the text part names it too)."""
        return self.item.media[0].alt if self.item.media else ""

    @lazy
    def image(self) -> Media | None:
        """The first image with a safe URL (the spotlight's picture)."""
        return next((m for m in self.item.media if safe_url(m.url)), None)

    @lazy
    def quote(self) -> str:
        """A pull quote (Worker Wins), from ``extra``."""
        return str(self.item.extra.get("quote") or "")

    @lazy
    def quote_by(self) -> str:
        return str(self.item.extra.get("quote_by") or "")


class Record:
    """A section's curated data (dicts and lists from YAML) with attribute access:
    ``d.deadlines``, ``dl.state``; a missing key reads as None, as ``.get()`` gives.
    Converted whole when built: templates then read plain attributes (no Jinja method
    call per value), and only a missing key costs a call."""

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


class EmailValues:
    """Per-email memo of sanitized HTML, its styled form and its plain text.

    Item views point here, never at the EmailView that holds them: without that
    cycle an email's views are freed by reference counting the moment the render ends,
    instead of piling up (thousands of objects per email) for the cyclic garbage
    collector, whose passes over them cost more than a tenth of a render.
    """

    def __init__(self, styles: FragmentStyles, timezone: str) -> None:
        self.styles = styles
        self.timezone = timezone
        self._clean: dict[str, str] = {}
        self._styled: dict[tuple[str, bool], Markup] = {}
        self._text: dict[str, str] = {}

    def clear(self) -> None:
        self._clean.clear()
        self._styled.clear()
        self._text.clear()

    def link(self, text: object, url: str | None) -> Markup:
        """``link_to`` with the email's link style."""
        return anchor(text, safe_url(url), self.styles.link_attr)

    def html(self, value: str | None, quoted: bool = False) -> Markup:
        """Untrusted HTML sanitized (again) and styled for the email."""
        if not value:
            return Markup("")
        key = (str(value), quoted)
        styled = self._styled.get(key)
        if styled is None:
            styled = markup(self.styles.apply(self._sanitized(key[0]), quoted))
            self._styled[key] = styled
        return styled

    def text(self, value: str | None) -> str:
        """Readable plain text of untrusted HTML (sanitized first)."""
        if not value:
            return ""
        value = str(value)
        text = self._text.get(value)
        if text is None:
            text = self._text[value] = html_to_text(self._sanitized(value))
        return text

    def date(self, value: datetime | date | str | None, style: str = "long") -> str:
        return format_date(value, self.timezone, style)

    def _sanitized(self, value: str) -> str:
        return _memo(self._clean, value, clean_html)


class EmailView:
    """What the email templates read (``views`` in their context): one ItemView per
    item and the per-section lists, built once for both passes, and the
    EmailValues methods (``views.html``, ``views.text``, ``views.date``, ``views.link``)."""

    def __init__(self, styles: FragmentStyles, timezone: str) -> None:
        values = EmailValues(styles, timezone)
        self.values = values
        self.link = values.link
        self.html = values.html
        self.text = values.text
        self.date = values.date
        self._views: dict[int, ItemView] = {}  # by id(): items outlive this render
        self._sections: dict[tuple[str, int], tuple[Section, Any]] = {}  # by id(), as above

    def of(self, item: Item) -> ItemView:
        view = self._views.get(id(item))
        if view is None or view.item is not item:
            view = self._views[id(item)] = ItemView(item, self.values)
        return view

    def items(self, section: Section) -> list[ItemView]:
        """The section's items (the list is built once, for both passes)."""
        return self._per_section("items", section, lambda: [self.of(i) for i in section.items])

    def groups(self, section: Section) -> list[GroupView]:
        return self._per_section(
            "groups",
            section,
            lambda: [
                GroupView(
                    group, self.link(group.heading, group.url), [self.of(i) for i in group.items]
                )
                for group in section.groups
            ],
        )

    def data(self, section: Section) -> Record:
        """``section.data`` as a Record."""
        return self._per_section("data", section, lambda: Record(section.data))

    def release(self) -> None:
        """Drop the views once the email is rendered.

        When a template calls a macro, Jinja's macro module holds the render's context
        in a reference cycle, and the context holds this object: without this, every view
        of that email would wait for the cyclic garbage collector.
        """
        self._views.clear()
        self._sections.clear()
        self.values.clear()

    def _per_section(self, kind: str, section: Section, build: Callable[[], V]) -> V:
        key = (kind, id(section))
        found = self._sections.get(key)
        if found is None or found[0] is not section:
            found = self._sections[key] = (section, build())
        value: V = found[1]
        return value


def _memo(cache: dict[str, str], key: str, compute: Callable[[str], str]) -> str:
    found = cache.get(key)
    if found is None:
        found = cache[key] = compute(key)
    return found
