"""Post text as spans (plain text, links, tags, mentions) and the splitter that fits them.

Templates produce plain text; links and mentions made with the template helpers travel
as markers, bare URLs and hashtags are found in the text. The splitter packs spans into
posts word by word: a link, tag or mention is never cut, a word is cut only when it is
longer than a whole post (and then only between graphemes), and facets are computed
from the final text in UTF-8 bytes, so they always point at exactly the linked text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import regex

from digest.models import Facet
from digest.social.limits import URL, PlatformRules, grapheme_count, graphemes

# Markers written by the template helpers; stripped from every other template value.
MARK_OPEN, MARK_SEP, MARK_CLOSE = "\x02", "\x1f", "\x03"
MARKER_CHARS = re.compile("[\x02\x03\x1f]")
MARKED = re.compile("\x02([LM])([^\x02\x03\x1f]*)\x1f([^\x02\x03\x1f]*)\x03")
# Bluesky's own rule (@atproto/api rich-text detection): '#' or '＃' after the start or
# whitespace, then everything up to whitespace or a zero-width character, with at least
# one character that is neither a digit nor punctuation (#1u is a tag, #2026 is not);
# trailing punctuation is not part of the tag (so "#union-made." tags "union-made").
# One deviation: Bluesky's pattern also stops at ZWJ and ZWNJ, which cuts an emoji
# sequence (👩🏾‍🏭) or a Persian word in two; here a tag keeps them inside it, so a tag
# never ends mid-grapheme.
TAG_STOP = "\\s\u00ad\u2060\u200a\u200b\u20e2"
HASHTAG = regex.compile(
    rf"(?:^|(?<=\s))[#＃](?!\ufe0f)([^{TAG_STOP}]*[^\d\p{{P}}{TAG_STOP}][^{TAG_STOP}]*)"
)
TRAILING_PUNCTUATION = regex.compile(r"[\p{P}\u200c\u200d]+$")
TAG_MAX_GRAPHEMES = 64
# Invisible format characters (BOM, zero-width space, word joiner, soft hyphen, bidi
# embeddings and isolates): X's counting rejects them and they break tags and links.
# Kept: ZWNJ and ZWJ (Persian, Indic scripts, emoji sequences), the LRM/RLM/ALM marks
# right-to-left text needs, and the tag characters of subdivision flags.
KEEP_FORMAT = "\u200c\u200d\u200e\u200f\u061c\U000e0020-\U000e007f"
INVISIBLE = regex.compile(rf"[\p{{Cf}}--[{KEEP_FORMAT}]]", regex.V1)
LINK_TEXT_MAX = 32  # graphemes of a shortened URL shown on Bluesky
BREAKS = regex.compile(r"\s+|\S+")
# Where a long block may be cut: after a sentence's end (and its closing quote or
# bracket) before whitespace, or at a line break (a list item is a line).
SENTENCE_END = regex.compile(r"(?<=[.!?…。！？][\"'”’)\]]?)[ \t]+(?=\S)|\n+")


@dataclass(frozen=True)
class Span:
    """A run of post text. ``value`` is the URI (link), tag without '#' or DID (mention)."""

    text: str
    kind: str = "text"  # text | link | tag | mention
    value: str = ""


@dataclass(frozen=True)
class PostText:
    text: str
    facets: tuple[Facet, ...]


def link_marker(url: str, text: str | None = None) -> str:
    return f"{MARK_OPEN}L{_clean(url)}{MARK_SEP}{_clean(text or '')}{MARK_CLOSE}"


def mention_marker(handle: str, did: str) -> str:
    return f"{MARK_OPEN}M{_clean(did)}{MARK_SEP}{_clean(handle.lstrip('@'))}{MARK_CLOSE}"


def _clean(value: str) -> str:
    return MARKER_CHARS.sub("", value)


def short_link_text(url: str) -> str:
    """What a Bluesky post shows for a URL: no scheme, at most 32 graphemes."""
    shown = re.sub(r"^https?://(www\.)?", "", url).rstrip("/") or url
    clusters = graphemes(shown)
    if len(clusters) <= LINK_TEXT_MAX:
        return shown
    return "".join(clusters[: LINK_TEXT_MAX - 1]) + "…"


def strip_invisible(text: str) -> str:
    """The text without invisible format characters (see INVISIBLE)."""
    return INVISIBLE.sub("", text)


def parse(text: str, rules: PlatformRules) -> list[Span]:
    """Rendered template text → spans: helper markers first, then URLs and hashtags."""
    text = strip_invisible(text)
    spans: list[Span] = []
    last = 0
    for match in MARKED.finditer(text):
        spans.extend(_plain_spans(text[last : match.start()], rules))
        kind, value, shown = match.groups()
        if kind == "L":
            spans.extend(_link_spans(value, shown, rules))
        else:
            spans.append(_mention_span(shown, value, rules))
        last = match.end()
    spans.extend(_plain_spans(text[last:], rules))
    return [s for s in spans if s.text]


def _link_spans(url: str, shown: str, rules: PlatformRules) -> list[Span]:
    if not rules.uses_facets:  # X shows the URL itself and links it on its own
        return (
            [Span(f"{shown} ", "text"), Span(url, "link", url)]
            if shown
            else [Span(url, "link", url)]
        )
    return [Span(shown or short_link_text(url), "link", url)]


def _mention_span(handle: str, did: str, rules: PlatformRules) -> Span:
    if rules.uses_facets and did.startswith("did:"):
        return Span(f"@{handle}", "mention", did)
    return Span(f"@{handle}", "text")


def _plain_spans(text: str, rules: PlatformRules) -> list[Span]:
    text = MARKER_CHARS.sub("", text)
    spans: list[Span] = []
    last = 0
    for match in URL.finditer(text):
        spans.extend(_tag_spans(text[last : match.start()], rules))
        url = match.group(0)
        shown = short_link_text(url) if rules.uses_facets else url
        spans.append(Span(shown, "link", url))
        last = match.end()
    spans.extend(_tag_spans(text[last:], rules))
    return spans


def _tag_spans(text: str, rules: PlatformRules) -> list[Span]:
    if not rules.uses_facets:
        return [Span(text)]
    spans: list[Span] = []
    last = 0
    for match in HASHTAG.finditer(text):
        tag = TRAILING_PUNCTUATION.sub("", match.group(1))
        if not tag or grapheme_count(tag) > TAG_MAX_GRAPHEMES:
            continue
        start = match.start()
        end = match.start(1) + len(tag)
        spans.append(Span(text[last:start]))
        spans.append(Span(text[start:end], "tag", tag))
        last = end
    spans.append(Span(text[last:]))
    return spans


def split(spans: Sequence[Span], rules: PlatformRules) -> list[PostText]:
    """Pack spans into as few posts as fit, breaking only at whitespace."""
    posts: list[list[Span]] = []
    current: list[Span] = []
    for atom in _atoms(spans):
        if atom.kind == "space" and not current:
            continue  # no post starts with whitespace
        if rules.fits(_joined([*current, atom])):
            current.append(atom)
            continue
        if current:
            posts.append(current)
            current = []
        if atom.kind == "space":
            continue
        if rules.fits(atom.text):
            current = [atom]
            continue
        pieces = _cut_word(atom, rules)  # only plain words get here: links always fit
        posts.extend([piece] for piece in pieces[:-1])
        current = [pieces[-1]]
    if current:
        posts.append(current)
    return [_finish(p, rules) for p in posts if _joined(p).strip()]


def _atoms(spans: Sequence[Span]) -> list[Span]:
    atoms: list[Span] = []
    for span in spans:
        if span.kind != "text":
            atoms.append(span)
            continue
        for piece in BREAKS.findall(span.text):
            atoms.append(Span(piece, "space" if piece.isspace() else "text"))
    return atoms


def _cut_word(atom: Span, rules: PlatformRules) -> list[Span]:
    pieces: list[Span] = []
    chunk = ""
    for cluster in graphemes(atom.text):
        if chunk and not rules.fits(chunk + cluster):
            pieces.append(Span(chunk))
            chunk = ""
        chunk += cluster
    pieces.append(Span(chunk))
    return pieces


def _joined(spans: Sequence[Span]) -> str:
    return "".join(s.text for s in spans)


def _finish(spans: list[Span], rules: PlatformRules) -> PostText:
    while spans and spans[-1].kind == "space":
        spans = spans[:-1]
    text = ""
    facets: list[Facet] = []
    for span in spans:
        start = len(text.encode("utf-8"))
        text += span.text
        if rules.uses_facets and span.kind in ("link", "tag", "mention"):
            facets.append(Facet(span.kind, start, len(text.encode("utf-8")), span.value))
    return PostText(text, tuple(facets))


def fit_text(text: str, rules: PlatformRules) -> list[PostText]:
    """Rendered text of one thread block → one or more posts within the platform's limits.

    A block too long for one post is cut between sentences or list items (lines), so no
    part is a fragment; only a single sentence longer than a post is cut between words.
    """
    spans = parse(text, rules)
    whole = split(spans, rules)
    if len(whole) <= 1:
        return whole
    posts: list[PostText] = []
    current: list[Span] = []
    for unit in _units(spans):
        if len(split([*current, *unit], rules)) <= 1:
            current = [*current, *unit]
            continue
        if current:
            posts.extend(split(current, rules))
        current = unit if len(split(unit, rules)) <= 1 else []
        if not current:
            posts.extend(split(unit, rules))
    if current:
        posts.extend(split(current, rules))
    return posts


def _units(spans: Sequence[Span]) -> list[list[Span]]:
    """Spans grouped into sentences and lines (the whitespace after a boundary ends the
    unit before it); links, tags and mentions are never split."""
    units: list[list[Span]] = [[]]
    for span in spans:
        if span.kind != "text":
            units[-1].append(span)
            continue
        last = 0
        for match in SENTENCE_END.finditer(span.text):
            units[-1].append(Span(span.text[last : match.end()]))
            units.append([])
            last = match.end()
        if span.text[last:]:
            units[-1].append(Span(span.text[last:]))
    return [unit for unit in units if _joined(unit).strip()]
