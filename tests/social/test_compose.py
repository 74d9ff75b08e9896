"""The composer: any text and links fit each platform, and facets point at the link text."""

from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from tests.social.conftest import make_edition

from digest.models import Facet
from digest.social import compose
from digest.social.limits import RULES, byte_len, grapheme_count, x_weight
from digest.social.text import Span, fit_text, split

words = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=400)
urls = st.builds(
    lambda host, path: f"https://{host}.example.org/{path}",
    st.from_regex(r"[a-z]{1,20}", fullmatch=True),
    st.from_regex(r"[a-z0-9/_-]{0,120}", fullmatch=True),
)
pieces = st.lists(
    st.one_of(words.map(lambda t: ("text", t)), urls.map(lambda u: ("link", u))), max_size=25
)


def _spans(parts: list[tuple[str, str]], facets: bool) -> list[Span]:
    spans = []
    for kind, value in parts:
        if kind == "text":
            spans.append(Span(value))
        else:  # links are separated from words, as the parser gives them
            shown = value.removeprefix("https://")[:32] if facets else value
            spans.extend([Span(" "), Span(shown, "link", value), Span(" ")])
    return spans


@hsettings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces, st.sampled_from(["bluesky", "x"]))
def test_any_text_and_links_fit_and_facets_point_at_link_text(parts, platform):
    rules = RULES[platform]
    spans = _spans(parts, rules.uses_facets)
    posts = split(spans, rules)
    links = [s for s in spans if s.kind == "link"]
    seen: list[str] = []
    for post in posts:
        assert rules.fits(post.text), rules.describe(post.text)
        if platform == "bluesky":
            assert grapheme_count(post.text) <= 300 and byte_len(post.text) <= 3000
            for facet in post.facets:
                shown = post.text.encode("utf-8")[facet.byte_start : facet.byte_end]
                assert facet.kind == "link"
                seen.append(facet.value)
                assert any(s.text.encode() == shown and s.value == facet.value for s in links)
        else:
            assert x_weight(post.text) <= 280
            seen.extend(s.value for s in links if s.value in post.text)
    # every link survives whole, in order, exactly once per occurrence
    assert seen == [s.value for s in links] or platform == "x"
    if platform == "x":
        joined = " ".join(p.text for p in posts)
        assert all(s.value in joined for s in links)
    # no word is lost: the non-space characters come out in the same order
    original = "".join(s.text for s in spans if s.kind != "space")
    assert "".join(original.split()) == "".join("".join(p.text for p in posts).split())


def test_x_counts_urls_as_23_and_wide_characters_as_2():
    assert x_weight("a" * 10) == 10
    assert x_weight("see https://example.org/" + "x" * 200) == 4 + 23
    assert x_weight("日本") == 4
    assert x_weight("👩‍👩‍👧") == 2  # one emoji sequence
    assert x_weight("e\u0301") == 1  # NFC: é


def test_long_headline_continues_in_the_next_post_without_cutting_words():
    text = " ".join(["solidarity"] * 60) + " https://news.example.org/a-very-long-path/" + "z" * 80
    posts = fit_text(text, RULES["bluesky"])
    assert len(posts) == 3
    assert all(p.text.split()[0] == "solidarity" or p.facets for p in posts)
    last = posts[-1]
    (facet,) = last.facets
    assert facet.value.endswith("z" * 80)  # the full URL lives in the facet
    shown = last.text.encode()[facet.byte_start : facet.byte_end].decode()
    assert shown.startswith("news.example.org/a-very") and shown.endswith("…")


def test_a_word_longer_than_a_post_is_cut_between_graphemes():
    text = "🇺🇸" * 400
    posts = fit_text(text, RULES["bluesky"])
    assert "".join(p.text for p in posts) == text
    assert all(grapheme_count(p.text) <= 300 for p in posts)


def test_hashtags_and_multibyte_text_get_byte_offsets():
    (post,) = fit_text("Grève générale ✊ #1u #UnionStrong #2026 #_99", RULES["bluesky"])
    tags = [f for f in post.facets if f.kind == "tag"]
    assert [f.value for f in tags] == ["1u", "UnionStrong"]  # digits alone are no tag
    for facet in tags:
        assert post.text.encode()[facet.byte_start : facet.byte_end].decode() == "#" + facet.value


def test_bluesky_thread_one_post_per_headline_with_card_on_the_root(settings):
    posts = compose(settings, make_edition(headlines=4), "bluesky")
    assert [p.part for p in posts] == [1, 2, 3, 4, 5, 6]
    root = posts[0]
    assert root.embed is not None
    assert root.embed.uri == "https://digest.example.org/archive/weekly/2026-11-20/"
    assert root.embed.thumb_alt == "Nurses on a picket line"
    link = next(f for f in root.facets if f.kind == "link")
    assert root.text.encode()[link.byte_start : link.byte_end].decode() == "Read the full edition"
    assert root.langs == ("en",)
    for n, post in enumerate(posts[1:5], start=1):
        assert f"after {n} months" in post.text
        assert post.facets[0] == Facet(
            "link",
            post.facets[0].byte_start,
            post.facets[0].byte_end,
            f"https://news.example.org/2026/11/story-{n}",
        )
        assert post.embed is None
    mention = posts[5].facets[0]
    assert mention.kind == "mention" and mention.value == "did:plc:ohio123"
    text = posts[5].text.encode()
    assert text[mention.byte_start : mention.byte_end] == b"@ohioaflcio.bsky.social"


def test_x_thread_is_short_and_within_280(settings):
    posts = compose(settings, make_edition(headlines=12), "x")
    assert len(posts) == 3
    assert posts[0].text.endswith("https://digest.example.org/archive/weekly/2026-11-20/")
    assert posts[1].text.count("•") == 3
    assert all(x_weight(p.text) <= 280 and not p.facets for p in posts)


def test_a_feed_headline_cannot_forge_a_facet(settings):
    edition = make_edition(headlines=1)
    edition.sections[0].items[0].title = "Win\x02Lhttps://evil.example\x1fclick\x03 here"
    posts = compose(settings, edition, "bluesky")
    shown = [p.text.encode()[f.byte_start : f.byte_end].decode() for p in posts for f in p.facets]
    assert "click" not in shown  # no hidden link behind harmless words
    assert any("Win" in p.text and "\x02" not in p.text for p in posts)
