"""Facets over every script and emoji: hashtags per Bluesky's rule, URLs with balanced
brackets, invisible format characters gone (property tests with hypothesis)."""

from __future__ import annotations

import unicodedata

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.social.limits import RULES, URL, graphemes, x_weight
from digest.social.text import TAG_MAX_GRAPHEMES, fit_text, strip_invisible

BSKY = RULES["bluesky"]
WORDS = [
    "मज़दूर_एकता",  # Devanagari with nukta and vowel signs (marks)
    unicodedata.normalize("NFD", "SíSePuede"),  # a combining accent
    "union-made",
    "solidaridad",
    "団結",
    "تضامن",
    "Солидарность",
    "ஒற்றுமை",
    "✊🏽",
    "👩🏾‍🏭",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # a subdivision flag (tag characters)
    "1u",
    "1199SEIU",
    "Labor",
]
PUNCT = ["", ".", ",", "!", "?", ":", "…", "!!"]


@st.composite
def tagged_text(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Text of words and hashtags; returns the text and the tags Bluesky would take."""
    parts, tags = [], []
    for _ in range(draw(st.integers(1, 8))):
        word = draw(st.sampled_from(WORDS))
        if draw(st.booleans()):
            tail = draw(st.sampled_from(PUNCT))
            parts.append(f"#{word}{tail}")
            if regex.search(r"[^\d\p{P}\s]", word) and len(graphemes(word)) <= TAG_MAX_GRAPHEMES:
                tags.append(word)
        else:
            parts.append(word)
    return " ".join(parts), tags


@settings(max_examples=200, deadline=None)
@given(tagged_text())
def test_every_hashtag_is_tagged_whole_in_any_script(case: tuple[str, list[str]]) -> None:
    text, tags = case
    found = []
    for post in fit_text(text, BSKY):
        data = post.text.encode()
        for facet in post.facets:
            label = data[facet.byte_start : facet.byte_end].decode()  # never mid-character
            if facet.kind == "tag":
                assert label in (f"#{facet.value}", f"＃{facet.value}")
                assert not regex.search(r"\p{P}$", facet.value)
                found.append(facet.value)
    assert found == tags


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
        max_size=80,
    )
)
def test_facets_point_at_their_text_and_nothing_invisible_survives(text: str) -> None:
    for post in fit_text(text, BSKY):
        data = post.text.encode()
        for facet in post.facets:
            data[facet.byte_start : facet.byte_end].decode()  # raises if cut mid-character
        stripped = strip_invisible(post.text)
        assert stripped == post.text
        assert "\ufeff" not in post.text and "\u200b" not in post.text


@given(st.sampled_from(["Union_(labor)", "a_(b)_c", "x?q=(1)"]), st.sampled_from([*PUNCT, ")"]))
def test_a_url_keeps_its_own_closing_bracket_and_drops_what_follows(path: str, tail: str) -> None:
    url = f"https://en.wikipedia.org/wiki/{path}"
    text = f"(see {url}{tail}"
    assert [m.group(0) for m in URL.finditer(text)] == [url]
    (post,) = fit_text(text, BSKY)
    (link,) = [f for f in post.facets if f.kind == "link"]
    assert link.value == url


def test_x_counts_a_url_with_its_bracket_as_one_link() -> None:
    url = "https://en.wikipedia.org/wiki/Union_(labor)"
    assert x_weight(url) == 23
    assert x_weight(f"({url})") == 25


def test_a_byte_order_mark_in_a_title_never_reaches_a_post() -> None:
    for platform in ("bluesky", "x"):
        (post,) = fit_text("\ufeffStrike ends\u200b today #union\u2060made", RULES[platform])
        assert post.text == "Strike ends today #unionmade"
