"""The values that flow through the pipeline: items, sections, editions, posts.

Plain dataclasses with ``to_dict``/``from_dict`` so an edition can be frozen as JSON
in the store and rendered again identically later.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Origin:
    """The organisation an item speaks for."""

    name: str
    kind: str = "other"  # affiliate | state_federation | news_outlet | own_blog | other
    state: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Media:
    url: str
    alt: str = ""


@dataclass(frozen=True)
class SocialPost:
    """What is known of a collected Bluesky or X post, for its static card."""

    platform: str  # bluesky | x
    post_url: str
    author_handle: str
    author_name: str
    author_did: str | None = None
    avatar_url: str | None = None
    text: str = ""
    # What the static card needs to do what Bluesky's own embed does (all JSON-ready,
    # so an edition frozen as JSON renders again identically):
    created_at: str | None = None  # ISO time the post was made
    # [{"start", "end", "kind": link|mention|tag, "value"}]: UTF-8 byte offsets in text
    facets: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, str]] = field(default_factory=list)  # [{"url", "thumb", "alt"}]
    external: dict[str, str] | None = None  # link card: {"uri", "title", "description", "thumb"}
    quote: dict[str, Any] | None = None  # a quoted post, in this class's to_dict form

    @property
    def quoted(self) -> SocialPost | None:
        """The quoted post as a SocialPost (kept as a dict so the card stays JSON)."""
        if not isinstance(self.quote, dict):
            return None
        known = {f for f in SocialPost.__dataclass_fields__}
        return SocialPost(**{k: v for k, v in self.quote.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return vars(self).copy()


@dataclass
class Item:
    """One collected thing: a feed entry, a curated link, a CSV row, a social post.

    ``summary`` and ``body`` hold HTML that has already been sanitized.
    """

    source_id: str
    guid: str
    url: str
    title: str
    origin: Origin
    published_at: datetime
    summary: str = ""
    body: str = ""
    author: str | None = None
    tags: tuple[str, ...] = ()
    media: tuple[Media, ...] = ()
    post: SocialPost | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a Worker Wins pull quote
    id: int | None = None  # store id once saved

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form. Built field by field: dataclasses.asdict deep-copies, and a
        collect of thousands of items spends most of its storing time there."""
        return {
            "source_id": self.source_id,
            "guid": self.guid,
            "url": self.url,
            "title": self.title,
            "origin": vars(self.origin).copy(),
            "published_at": self.published_at.isoformat(),
            "summary": self.summary,
            "body": self.body,
            "author": self.author,
            "tags": list(self.tags),
            "media": [vars(m).copy() for m in self.media],
            "post": vars(self.post).copy() if self.post else None,
            "extra": dict(self.extra),
            "id": self.id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Item:
        data = dict(data)
        data["origin"] = Origin(**data["origin"])
        data["published_at"] = datetime.fromisoformat(data["published_at"])
        data["tags"] = tuple(data.get("tags", ()))
        data["media"] = tuple(Media(**m) for m in data.get("media", ()))
        post = data.get("post")
        data["post"] = SocialPost(**post) if post else None
        return cls(**data)


@dataclass
class Group:
    """A heading and the items under it (a state federation, an affiliate)."""

    heading: str
    items: list[Item]
    url: str | None = None


@dataclass
class Section:
    """One format's share of an edition."""

    format_id: str
    title: str
    intro: str
    template: str
    items: list[Item] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # profile / political content

    @property
    def is_empty(self) -> bool:
        return not (self.items or any(g.items for g in self.groups) or self.data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_id": self.format_id,
            "title": self.title,
            "intro": self.intro,
            "template": self.template,
            "items": [i.to_dict() for i in self.items],
            "groups": [
                {"heading": g.heading, "url": g.url, "items": [i.to_dict() for i in g.items]}
                for g in self.groups
            ],
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Section:
        return cls(
            format_id=data["format_id"],
            title=data["title"],
            intro=data["intro"],
            template=data["template"],
            items=[Item.from_dict(i) for i in data["items"]],
            groups=[
                Group(g["heading"], [Item.from_dict(i) for i in g["items"]], g.get("url"))
                for g in data["groups"]
            ],
            data=data.get("data", {}),
        )


@dataclass
class Edition:
    """One run of a newsletter for one period; frozen once built."""

    newsletter: str
    title: str
    subject: str
    period_start: datetime
    period_end: datetime
    sections: list[Section]
    id: int | None = None
    # The editor's words for this edition (see digest.overlay): the email's and the
    # archive page's H1, the inbox preview text and a note at the top. Empty: none.
    headline: str = ""
    preheader: str = ""
    note: str = ""
    html: str = ""  # email HTML with recipient placeholders (see render.email)
    text: str = ""
    web_html: str = ""
    # the nonce in this edition's recipient markers (render.placeholders.Markers)
    markers: str = ""

    @property
    def period_key(self) -> str:
        return self.period_end.isoformat(timespec="minutes")

    @property
    def is_empty(self) -> bool:
        return all(s.is_empty for s in self.sections)

    @property
    def item_count(self) -> int:
        return sum(len(s.items) + sum(len(g.items) for g in s.groups) for s in self.sections)


@dataclass(frozen=True)
class Facet:
    """A Bluesky rich-text facet: UTF-8 byte offsets, end exclusive."""

    kind: str  # link | tag | mention
    byte_start: int
    byte_end: int
    value: str  # the URI, tag (without #) or DID


@dataclass(frozen=True)
class Embed:
    """A link card for the edition's archive page."""

    uri: str
    title: str
    description: str
    thumb_url: str | None = None
    thumb_alt: str = ""


@dataclass(frozen=True)
class Post:
    """One part of a social summary, exactly as it would be posted."""

    platform: str
    part: int  # 1-based position in the thread
    text: str
    facets: tuple[Facet, ...] = ()
    embed: Embed | None = None
    langs: tuple[str, ...] = ()
    standalone: bool = False  # a post of its own (one story), not a reply in the thread

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "part": self.part,
            "text": self.text,
            "facets": [asdict(f) for f in self.facets],
            "embed": asdict(self.embed) if self.embed else None,
            "langs": list(self.langs),
            "standalone": self.standalone,
        }


@dataclass
class RunReport:
    """What a run did, printed at its end and stored with the run."""

    newsletter: str | None = None
    sources_read: int = 0
    sources_failed: int = 0
    items_new: int = 0
    items_updated: int = 0
    sections: int = 0
    recipients: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    suppressed: int = 0
    posts: int = 0
    social_failed: int = 0  # social channels whose announcement did not fully go out
    # grouped sections: {title: {"quiet": [who posted nothing], "failed": [who could not
    # be read]}} (digest.roster), for the editor to chase
    roster: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # Per source, entries left out (too old, duplicate, over max_entries) or dated when
    # first seen (no date), by reason; and the start of the collect's window.
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    collected_since: str | None = None
    warnings: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # what was written, and where

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
