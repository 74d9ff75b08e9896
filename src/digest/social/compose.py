"""Compose an edition's announcement for one platform, exactly as it will be posted.

The root post comes from ``templates/social/<platform>/edition.txt.j2``; each section
whose template has a social counterpart (``templates/social/<platform>/<template>.txt.j2``,
e.g. ``weekly_list``) adds its own posts to the thread. A line holding only ``---`` in a
template starts a new post; a block longer than one post continues in the next one.
"""

from __future__ import annotations

import re
from typing import Any

import jinja2
from markupsafe import Markup

from digest.config import BlueskyChannel, Settings
from digest.models import Edition, Embed, Item, Post, Section
from digest.render import Renderer
from digest.render import templates as render_templates
from digest.social.limits import rules_for
from digest.social.text import (
    MARKED,
    MARKER_CHARS,
    PostText,
    fit_text,
    link_marker,
    mention_marker,
)
from digest.urls import edition_url

BLOCK_BREAK = re.compile(r"^[ \t]*---[ \t]*$", re.M)
CARD_DESCRIPTION_MAX = 280


class _Marked(str):
    """Helper output whose markers must survive the template's finalize step."""


def _finalize(value: Any) -> Any:
    # Only the helpers may produce link/mention markers: strip them from anything else,
    # so a feed headline cannot forge a facet.
    if isinstance(value, _Marked):
        return value
    if isinstance(value, str) and not isinstance(value, Markup):
        return MARKER_CHARS.sub("", value)
    return value


def _link(url: str, text: str | None = None) -> _Marked:
    return _Marked(link_marker(str(url), None if text is None else str(text)))


def _mention(handle: str, did: str | None = None) -> _Marked | str:
    return _Marked(mention_marker(str(handle), did)) if did else f"@{str(handle).lstrip('@')}"


def _social_environment(base: jinja2.Environment) -> jinja2.Environment:
    """The shared environment with the marker-stripping finalize step. An overlay shares
    its parent's globals dict and copies its template cache: it gets its own of both."""
    env = base.overlay(finalize=_finalize, cache_size=400)
    env.globals = {**base.globals, "link": _link, "mention": _mention}
    return env


def compose(
    settings: Settings, edition: Edition, platform: str, renderer: Renderer | None = None
) -> list[Post]:
    """Every part of ``edition``'s thread on ``platform``, within the platform's limits.

    ``renderer``: the run's Renderer (its templates compile once); one is made if not given.
    """
    rules = rules_for(platform)
    env = (renderer or Renderer(settings)).overlay("social", _social_environment)
    context = _context(settings, edition, platform)
    texts: list[PostText] = []
    for block in _blocks(env, platform, edition, context):
        texts.extend(fit_text(block, rules))
    texts = texts[: rules.max_parts]
    langs = _langs(settings, edition)
    embed = _embed(settings, edition, context["url"], platform)
    return [
        Post(
            platform=platform,
            part=index,
            text=text.text,
            facets=text.facets,
            embed=embed if index == 1 else None,
            langs=langs,
        )
        for index, text in enumerate(texts, start=1)
    ]


def _blocks(
    env: jinja2.Environment, platform: str, edition: Edition, context: dict[str, Any]
) -> list[str]:
    rendered = [render_templates.render(env, f"social/{platform}/edition.txt.j2", context)]
    for section in edition.sections:
        if section.is_empty:
            continue
        name = f"social/{platform}/{section.template}.txt.j2"
        if _exists(env, name):
            section_context = {**context, "section": section, "items": _items_of(section)}
            rendered.append(render_templates.render(env, name, section_context))
    blocks: list[str] = []
    for text in rendered:
        blocks.extend(b.strip() for b in BLOCK_BREAK.split(text) if _visible(b))
    return blocks


def _visible(block: str) -> bool:
    return bool(MARKED.sub("x", block).strip())


def _exists(env: jinja2.Environment, name: str) -> bool:
    try:
        env.get_template(name)
    except jinja2.TemplateNotFound:
        return False
    return True


def _items_of(section: Section) -> list[Item]:
    return section.items + [item for group in section.groups for item in group.items]


def _context(settings: Settings, edition: Edition, platform: str) -> dict[str, Any]:
    newsletter = settings.newsletters.get(edition.newsletter)
    return {
        "platform": platform,
        "edition": edition,
        "newsletter": newsletter,
        "timezone": newsletter.timezone if newsletter else "UTC",
        "sections": [s for s in edition.sections if not s.is_empty],
        "url": edition_url(settings, edition.newsletter, edition.period_end),
        "date": edition.period_end.date(),
        "item_count": edition.item_count,
    }


def _langs(settings: Settings, edition: Edition) -> tuple[str, ...]:
    for name in settings.newsletters[edition.newsletter].channels:
        channel = settings.channels.get(name)
        if isinstance(channel, BlueskyChannel):
            return channel.langs[:3]
    return (settings.organization.language,)


def _embed(settings: Settings, edition: Edition, url: str, platform: str) -> Embed | None:
    """Bluesky: a link card for the archive page. X: a story photo, only with alt text."""
    image = _first_image(edition)
    if platform == "x":
        return Embed(url, edition.title, "", image[0], image[1]) if image else None
    if image is None and settings.organization.logo_url:
        image = (settings.organization.logo_url, f"{settings.organization.name} logo")
    return Embed(
        uri=url,
        title=edition.title,
        description=_card_description(settings, edition),
        thumb_url=image[0] if image else None,
        thumb_alt=image[1] if image else "",
    )


def _first_image(edition: Edition) -> tuple[str, str] | None:
    """The first described photo of the organisation's own stories.

    Photos from affiliates', federations' or outlets' posts are theirs: shown with credit
    in the email's cards, never re-posted under the organisation's account.
    """
    for section in edition.sections:
        for item in _items_of(section):
            if item.origin.kind != "own_blog":
                continue
            for media in item.media:
                if media.alt.strip() and media.url.startswith(("https://", "http://")):
                    return media.url, media.alt.strip()
    return None


def _card_description(settings: Settings, edition: Edition) -> str:
    newsletter = settings.newsletters.get(edition.newsletter)
    titles = ", ".join(s.title for s in edition.sections if not s.is_empty)
    described = newsletter.description if newsletter and newsletter.description else ""
    text = " ".join(part for part in (described, titles and f"In this edition: {titles}.") if part)
    return text if len(text) <= CARD_DESCRIPTION_MAX else text[: CARD_DESCRIPTION_MAX - 1] + "…"
