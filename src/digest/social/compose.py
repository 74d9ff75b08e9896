"""Compose an edition's announcement for one platform, exactly as it will be posted.

The root post comes from ``templates/social/<platform>/edition.txt.j2``; each section
whose template has a social counterpart (``templates/social/<platform>/<template>.txt.j2``,
e.g. ``weekly_list``) adds its own posts to the thread. A line holding only ``---`` in a
template starts a new post; a block longer than one post continues in the next one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import jinja2
from markupsafe import Markup

from digest.config import BlueskyChannel, Settings
from digest.models import Edition, Embed, Group, Item, Post, Section
from digest.render import Renderer
from digest.render import templates as render_templates
from digest.render.display import edition_headline
from digest.social.limits import PlatformRules, rules_for
from digest.social.text import (
    MARKED,
    MARKER_CHARS,
    PostText,
    fit_text,
    link_marker,
    mention_marker,
    strip_invisible,
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


@dataclass
class Plan:
    """What one platform gets of an edition, and what did not fit (named, never lost
    in silence): shown by ``digest post --dry-run`` and written to the run report."""

    platform: str
    posts: list[Post]
    left_out: list[str] = field(default_factory=list)


def compose(
    settings: Settings, edition: Edition, platform: str, renderer: Renderer | None = None
) -> list[Post]:
    """Every post of ``edition``'s announcement on ``platform``, within the limits."""
    return plan(settings, edition, platform, renderer).posts


def plan(
    settings: Settings,
    edition: Edition,
    platform: str,
    renderer: Renderer | None = None,
    shape: str | None = None,
) -> Plan:
    """The announcement in the newsletter's configured shape (``social.shape``, or
    ``shape`` to compare another), cut to the platform's and the configured maximum,
    with what was left out named.

    ``renderer``: the run's Renderer (its templates compile once); one is made if not given.
    """
    rules = rules_for(platform)
    social = settings.newsletters[edition.newsletter].social
    if shape is not None:
        social = social.model_copy(update={"shape": shape})
    env = (renderer or Renderer(settings)).overlay("social", _social_environment)
    context = _context(settings, edition, platform)
    langs = _langs(settings, edition)
    if social.shape == "per_item":
        drafts = _per_item(settings, edition, platform, context, rules)
    else:
        drafts = _root(env, platform, edition, context, rules, settings)
        if social.shape == "thread":
            drafts.extend(_section_posts(env, platform, edition, context, rules))
    cap = min(rules.max_parts, social.max_posts or rules.max_parts)
    kept, dropped = drafts[:cap], drafts[cap:]
    left_out = [d.name for d in dropped] + [n for d in kept for n in d.left_out]
    posts = [
        Post(
            platform=platform,
            part=index,
            text=draft.text.text,
            facets=draft.text.facets,
            embed=draft.embed,
            langs=langs,
            standalone=draft.standalone,
        )
        for index, draft in enumerate(kept, start=1)
    ]
    return Plan(platform, posts, left_out)


@dataclass
class Draft:
    """One planned post; ``name`` says what it is, should it not fit the cap."""

    text: PostText
    name: str
    embed: Embed | None = None
    standalone: bool = False
    left_out: list[str] = field(default_factory=list)


def _root(
    env: jinja2.Environment,
    platform: str,
    edition: Edition,
    context: dict[str, Any],
    rules: PlatformRules,
    settings: Settings,
) -> list[Draft]:
    """The announcement (edition.txt.j2: headline, link, hashtags) with the link card.
    A root longer than one post continues at a sentence boundary."""
    embed = _embed(settings, edition, context["url"], platform)
    text = render_templates.render(env, f"social/{platform}/edition.txt.j2", context)
    drafts: list[Draft] = []
    for block in (b.strip() for b in BLOCK_BREAK.split(text) if _visible(b)):
        for part in fit_text(block, rules):
            name = "the announcement" if not drafts else f"part {len(drafts) + 1}"
            drafts.append(Draft(part, name, embed if not drafts else None))
    return drafts


def _section_posts(
    env: jinja2.Environment,
    platform: str,
    edition: Edition,
    context: dict[str, Any],
    rules: PlatformRules,
) -> list[Draft]:
    """One reply per section, from ``social/<platform>/<template>.txt.j2`` (or the
    generic ``section.txt.j2``), holding as many of its stories (or, for grouped
    sections, its groups) as fit one post whole; the rest are named as left out."""
    drafts = []
    for section in edition.sections:
        if section.is_empty:
            continue
        name = f"social/{platform}/{section.template}.txt.j2"
        if not _exists(env, name):
            name = f"social/{platform}/section.txt.j2"
        entries: list[Any] = list(section.groups) if section.groups else list(section.items)
        best = _most_that_fit(env, name, section, entries, context, rules)
        if best is None:
            continue
        text, count = best
        left = [_entry_name(section, entry) for entry in entries[count:]]
        drafts.append(Draft(text, f"the {section.title} post", left_out=left))
    return drafts


def _section_text(
    env: jinja2.Environment,
    name: str,
    section: Section,
    entries: list[Any],
    context: dict[str, Any],
    rules: PlatformRules,
) -> list[PostText]:
    groups = entries if section.groups else []
    items = [i for g in groups for i in g.items] if section.groups else entries
    local = {
        **context,
        "section": section,
        "items": items,
        "groups": groups,
        "section_url": f"{context['url']}#{section.format_id}",
    }
    text = render_templates.render(env, name, local)
    blocks = [b.strip() for b in BLOCK_BREAK.split(text) if _visible(b)]
    return fit_text("\n\n".join(blocks), rules) if blocks else []


def _most_that_fit(
    env: jinja2.Environment,
    name: str,
    section: Section,
    entries: list[Any],
    context: dict[str, Any],
    rules: PlatformRules,
) -> tuple[PostText, int] | None:
    """The section's post with the most entries that fit in one post (a binary search:
    fitting is monotone in the count), or None when the template writes nothing."""
    low, high = 0, len(entries)
    best: tuple[PostText, int] | None = None
    while low <= high:
        middle = (low + high) // 2
        parts = _section_text(env, name, section, entries[:middle], context, rules)
        if len(parts) == 1:
            best = (parts[0], middle)
            low = middle + 1
        elif not parts:
            low = middle + 1
        else:
            high = middle - 1
    if best is None:  # not even the heading fits one post: its first part, named
        parts = _section_text(env, name, section, entries[:0], context, rules)
        if not parts:
            return None
        best = (parts[0], 0)
    return best


def _entry_name(section: Section, entry: Any) -> str:
    title = entry.heading if isinstance(entry, Group) else entry.title
    return f"'{' '.join(strip_invisible(str(title)).split())}' ({section.title})"


def _per_item(
    settings: Settings,
    edition: Edition,
    platform: str,
    context: dict[str, Any],
    rules: PlatformRules,
) -> list[Draft]:
    """Each story its own post (not a reply): its headline, its link card, hashtags."""
    drafts = []
    tags = " ".join(context["hashtags"])
    for section in edition.sections:
        for item in _items_of(section):
            # markers stripped: a feed headline must not forge a link facet
            title = " ".join(MARKER_CHARS.sub("", strip_invisible(item.title)).split())
            shown = item.url if platform == "x" else None
            body = f"{title}\n\n{link_marker(item.url, shown)}" if item.url else title
            texts = fit_text(f"{body} {tags}".strip(), rules)
            image = _item_image(item) or _default_image(settings, edition.newsletter)
            embed = _item_embed(item, image, platform)
            left = [f"part {n} of '{title}'" for n in range(2, len(texts) + 1)]
            drafts.append(Draft(texts[0], f"'{title}'", embed, standalone=True, left_out=left))
    return drafts


def _item_embed(item: Item, image: tuple[str, str] | None, platform: str) -> Embed | None:
    if platform == "x":
        return Embed(item.url, item.title, "", image[0], image[1]) if image else None
    if not item.url:
        return None
    description = _plain(item.summary or item.body)
    return Embed(
        uri=item.url,
        title=item.title,
        description=_clip(description),
        thumb_url=image[0] if image else None,
        thumb_alt=image[1] if image else "",
    )


def _plain(value: str) -> str:
    from digest.render.filters import plain

    return " ".join(plain(value).split())


def _clip(text: str) -> str:
    return text if len(text) <= CARD_DESCRIPTION_MAX else text[: CARD_DESCRIPTION_MAX - 1] + "…"


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
        "headline": edition_headline(edition),
        "hashtags": [f"#{tag}" for tag in newsletter.social.hashtags] if newsletter else [],
    }


def _langs(settings: Settings, edition: Edition) -> tuple[str, ...]:
    for name in settings.newsletters[edition.newsletter].channels:
        channel = settings.channels.get(name)
        if isinstance(channel, BlueskyChannel):
            return channel.langs[:3]
    return (settings.organization.language,)


def _embed(settings: Settings, edition: Edition, url: str, platform: str) -> Embed | None:
    """Bluesky: a link card for the archive page, with the lead story's photo, else the
    configured default image, else the logo. X: that photo, only with alt text."""
    image = _first_image(edition) or _default_image(settings, edition.newsletter)
    if platform == "x":
        return Embed(url, edition_headline(edition), "", image[0], image[1]) if image else None
    if image is None and settings.organization.logo_url:
        image = (settings.organization.logo_url, f"{settings.organization.name} logo")
    return Embed(
        uri=url,
        title=edition_headline(edition),
        description=_card_description(settings, edition),
        thumb_url=image[0] if image else None,
        thumb_alt=image[1] if image else "",
    )


def _default_image(settings: Settings, newsletter: str | None = None) -> tuple[str, str] | None:
    if newsletter is None:
        return None
    configured = settings.newsletters[newsletter].social.image
    return (configured.url, configured.alt) if configured else None


def _item_image(item: Item) -> tuple[str, str] | None:
    """The story's own described photo (the organisation's own stories only: photos
    in affiliates' and outlets' posts are theirs to post)."""
    if item.origin.kind != "own_blog":
        return None
    for media in item.media:
        if media.alt.strip() and media.url.startswith(("https://", "http://")):
            return media.url, media.alt.strip()
    return None


def _first_image(edition: Edition) -> tuple[str, str] | None:
    """The lead story's photo: the first described photo of the organisation's own
    stories, in edition order."""
    for section in edition.sections:
        for item in _items_of(section):
            image = _item_image(item)
            if image:
                return image
    return None


def _card_description(settings: Settings, edition: Edition) -> str:
    newsletter = settings.newsletters.get(edition.newsletter)
    titles = ", ".join(s.title for s in edition.sections if not s.is_empty)
    described = newsletter.description if newsletter and newsletter.description else ""
    text = " ".join(part for part in (described, titles and f"In this edition: {titles}.") if part)
    return text if len(text) <= CARD_DESCRIPTION_MAX else text[: CARD_DESCRIPTION_MAX - 1] + "…"
