"""How each platform measures a post: Bluesky graphemes and bytes, X weighted characters.

Counting here errs on the long side where the platform's own rules are fuzzy (an emoji
or a bare domain on X), so a post that fits here is never refused for its length.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import regex

BLUESKY_GRAPHEMES = 300
BLUESKY_BYTES = 3000
X_WEIGHTED = 280
X_URL_WEIGHT = 23  # every URL is wrapped in a t.co link of this weight

# A URL runs to whitespace; a closing bracket belongs to it only when it closes one the
# URL opened (".../Union_(labor)" keeps its ')', "(see https://x.org/a)" does not), and
# trailing sentence punctuation is not part of it.
_IN_BRACKETS = r"\([^\s<>\"'()]*\)|\[[^\s<>\"'\[\]]*\]"
URL = regex.compile(
    rf"https?://(?:[^\s<>\"'()\[\]]|{_IN_BRACKETS})*"
    rf"(?:[^\s<>\"'.,;:!?…“”‘’«»、。！？()\[\]{{}}]|{_IN_BRACKETS})"
)
# A bare domain that X may auto-link (e.g. "aflcio.org"); counted as at least a URL.
BARE_DOMAIN = regex.compile(r"(?<![\w@/.])[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?:/\S*)?", regex.I)
EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}]")
# twitter-text: code points in these ranges weigh 1; everything else weighs 2.
X_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))


def graphemes(text: str) -> list[str]:
    """User-perceived characters (extended grapheme clusters)."""
    return regex.findall(r"\X", text)


def grapheme_count(text: str) -> int:
    return len(graphemes(text))


def byte_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _codepoint_weight(char: str) -> int:
    code = ord(char)
    return 1 if any(lo <= code <= hi for lo, hi in X_LIGHT_RANGES) else 2


def _plain_weight(text: str) -> int:
    total = 0
    for cluster in graphemes(text):
        if EMOJI.search(cluster):
            total += 2  # an emoji sequence, however many code points, weighs 2
        else:
            total += sum(_codepoint_weight(c) for c in cluster)
    return total


def x_weight(text: str) -> int:
    """X's weighted length (twitter-text v3): NFC, URLs 23, wide characters and emoji 2."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    last = 0
    for match in URL.finditer(text):
        total += _words_weight(text[last : match.start()]) + X_URL_WEIGHT
        last = match.end()
    return total + _words_weight(text[last:])


def _words_weight(text: str) -> int:
    total = 0
    last = 0
    for match in BARE_DOMAIN.finditer(text):
        total += _plain_weight(text[last : match.start()])
        total += max(_plain_weight(match.group(0)), X_URL_WEIGHT)
        last = match.end()
    return total + _plain_weight(text[last:])


@dataclass(frozen=True)
class Limit:
    """One measure a post must stay within: ``measure(text) <= most``."""

    unit: str
    most: int
    measure: Callable[[str], int]


@dataclass(frozen=True)
class PlatformRules:
    """The limits one platform puts on a post, and whether it uses facets. Each
    platform names its own limits: none is borrowed from another."""

    name: str
    uses_facets: bool
    max_parts: int
    limits: tuple[Limit, ...]

    def fits(self, text: str) -> bool:
        return all(limit.measure(text) <= limit.most for limit in self.limits)

    def describe(self, text: str) -> str:
        return ", ".join(f"{lim.measure(text)}/{lim.most} {lim.unit}" for lim in self.limits)


RULES = {
    # A long thread loses readers; a social editor keeps it short.
    "bluesky": PlatformRules(
        "bluesky",
        uses_facets=True,
        max_parts=12,
        limits=(
            Limit("graphemes", BLUESKY_GRAPHEMES, grapheme_count),
            Limit("bytes", BLUESKY_BYTES, byte_len),
        ),
    ),
    "x": PlatformRules(
        "x",
        uses_facets=False,
        max_parts=6,
        limits=(Limit("weighted characters", X_WEIGHTED, x_weight),),
    ),
}


def rules_for(platform: str) -> PlatformRules:
    try:
        return RULES[platform]
    except KeyError:
        known = " or ".join(RULES)
        raise ValueError(f"unknown social platform '{platform}' ({known})") from None
