"""The composer: any text and links fit each platform, and facets point at the link text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from tests.social.conftest import make_edition

from digest.errors import ConfigError
from digest.social import compose, plan
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


def test_the_default_shape_is_one_post_led_by_the_headline_with_the_link_card(settings):
    posts = compose(settings, make_edition(headlines=4), "bluesky")
    (root,) = posts
    assert root.text.startswith("Weekly\n")  # the subject, as the edition has no headline
    assert "#1u" not in root.text  # hashtags come from config only
    assert root.embed is not None
    assert root.embed.uri == "https://digest.example.org/archive/weekly/2026-11-20/"
    assert root.embed.thumb_alt == "Nurses on a picket line"
    link = next(f for f in root.facets if f.kind == "link")
    assert root.text.encode()[link.byte_start : link.byte_end].decode() == "Read the full edition"
    assert root.langs == ("en",)


def _shaped(make_settings, **social):
    return make_settings(
        newsletters={
            "weekly": {
                "title": "Weekly",
                "schedule": "fri 16:00",
                "timezone": "America/New_York",
                "formats": ["weekly_list"],
                "social": social,
            }
        }
    )


def test_a_thread_has_one_post_per_section_and_names_what_did_not_fit(make_settings):
    settings = _shaped(make_settings, shape="thread", hashtags=["UnionStrong", "#1u"])
    edition = make_edition(headlines=40)
    result = plan(settings, edition, "bluesky")
    root, weekly, states = result.posts
    assert root.text.endswith("#UnionStrong #1u")
    assert [f.value for f in root.facets if f.kind == "tag"] == ["UnionStrong", "1u"]
    assert weekly.text.startswith("Working People Weekly List\n")
    shown = weekly.text.count("• ")
    assert 1 <= shown < 40
    assert RULES["bluesky"].fits(weekly.text)
    assert weekly.facets[-1].value.endswith("/2026-11-20/#weekly_list")  # the section's link
    # every headline is in a post or named as left out, none cut in the middle
    named = [n for n in result.left_out if "(Working People Weekly List)" in n]
    assert shown + len(named) == 40
    for n in range(shown + 1, 41):
        assert (
            f"'Nurses at Mercy General win a first contract after {n} months'"
            in named[n - shown - 1]
        )
    assert "Ohio AFL-CIO" in states.text or "@ohioaflcio.bsky.social" in states.text


def test_a_thread_capped_by_config_names_the_posts_it_leaves_out(make_settings):
    settings = _shaped(make_settings, shape="thread", max_posts=2)
    result = plan(settings, make_edition(headlines=3), "bluesky")
    assert len(result.posts) == 2
    assert "the In the States post" in result.left_out


def test_one_post_per_item_each_its_own_post_with_its_own_card(make_settings):
    settings = _shaped(
        make_settings,
        shape="per_item",
        image={"url": "https://img.example.org/default.jpg", "alt": "Our logo on a banner"},
    )
    edition = make_edition(headlines=2)
    posts = compose(settings, edition, "bluesky")
    assert all(p.standalone for p in posts)
    first, second = posts[:2]
    assert first.text.startswith(edition.sections[0].items[0].title)
    assert first.embed is not None and first.embed.uri.endswith("story-1")
    assert first.embed.thumb_alt == "Nurses on a picket line"  # the story's own photo
    assert second.embed is not None and second.embed.uri.endswith("story-2")
    assert second.embed.thumb_url == "https://img.example.org/default.jpg"  # the default


def test_the_root_leads_with_the_editions_own_headline_when_it_has_one(settings):
    edition = make_edition(headlines=1)
    edition.headline = "Nurses win at Mercy General"  # type: ignore[attr-defined]
    (root,) = compose(settings, edition, "x")
    assert root.text.startswith("Nurses win at Mercy General\n")


def test_a_default_image_needs_alt_text(make_settings):
    with pytest.raises(ConfigError) as raised:
        _shaped(make_settings, image={"url": "https://img.example.org/a.jpg", "alt": " "})
    assert "alt text is required" in str(raised.value.problems)


def test_x_thread_posts_end_at_whole_headlines_within_280(make_settings):
    settings = _shaped(make_settings, shape="thread")
    result = plan(settings, make_edition(headlines=12), "x")
    root, weekly, _states = result.posts
    assert root.text.endswith("https://digest.example.org/archive/weekly/2026-11-20/")
    assert weekly.text.startswith("Top stories:")
    assert all(line.endswith("months") for line in weekly.text.splitlines()[1:])
    assert all(x_weight(p.text) <= 280 and not p.facets for p in result.posts)
    assert len(result.left_out) == 12 - weekly.text.count("•")


def test_a_long_block_splits_between_sentences_never_inside_a_name():
    text = ("The AFL-CIO backs the strike at the plant. " * 5) + (
        "Members of the Amalgamated Transit Union joined the rally for Labor. " * 3
    )
    posts = fit_text(text, RULES["x"])
    assert len(posts) > 1
    assert all(p.text.endswith(".") for p in posts)
    assert all(p.text != "Labor." for p in posts)


@pytest.mark.parametrize("shape", ["thread", "per_item"])
def test_a_feed_headline_cannot_forge_a_facet(make_settings, shape):
    edition = make_edition(headlines=1)
    edition.sections[0].items[0].title = "Win\x02Lhttps://evil.example\x1fclick\x03 here"
    posts = compose(_shaped(make_settings, shape=shape), edition, "bluesky")
    shown = [p.text.encode()[f.byte_start : f.byte_end].decode() for p in posts for f in p.facets]
    assert "click" not in shown  # no hidden link behind harmless words
    for post in posts:  # a link the headline spells out is shown as itself, never hidden
        for facet in post.facets:
            label = post.text.encode()[facet.byte_start : facet.byte_end].decode()
            assert facet.kind != "link" or "evil" not in facet.value or "evil" in label
    assert any("Win" in p.text and "\x02" not in p.text for p in posts)
