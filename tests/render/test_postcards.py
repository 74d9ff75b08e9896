"""Post cards: a collected post's links, mentions, hashtags, images, link card and quote
survive into the email, as Bluesky's own embed shows them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from digest.models import Edition, Group, Item, Origin, Section, SocialPost
from digest.render import Renderer
from digest.render.postcards import card_html, card_text, initials, post_time


def _facet(text: str, shown: str, kind: str, value: str) -> dict[str, object]:
    data = text.encode()
    start = data.index(shown.encode())
    return {"start": start, "end": start + len(shown.encode()), "kind": kind, "value": value}


TEXT = "Solidarity ✊🏽 with @teamsters.bsky.social! #union-made Read: nyt.com/2026/11/strike… 🧵"
POST = SocialPost(
    "bluesky",
    "https://bsky.app/profile/ohio.example/post/3abc",
    "ohio.example",
    "Ohio AFL-CIO",
    "did:plc:ohio",
    None,
    TEXT,
    created_at="2026-11-19T15:00:00+00:00",
    facets=[
        _facet(TEXT, "@teamsters.bsky.social", "mention", "did:plc:teamsters"),
        _facet(TEXT, "#union-made", "tag", "union-made"),
        _facet(TEXT, "nyt.com/2026/11/strike…", "link", "https://nyt.com/2026/11/strike-ends"),
    ],
    images=[
        {"url": "https://cdn.example/f1.jpg", "thumb": "https://cdn.example/t1.jpg", "alt": "A"},
        {"url": "https://cdn.example/f2.jpg", "thumb": "https://cdn.example/t2.jpg", "alt": "B"},
    ],
    external={
        "uri": "https://nyt.com/2026/11/strike-ends",
        "title": "The strike ends <with a deal>",
        "description": "Members ratify.",
        "thumb": "https://cdn.example/card.jpg",
    },
    quote=SocialPost(
        "bluesky",
        "https://bsky.app/profile/teamsters.bsky.social/post/9q",
        "teamsters.bsky.social",
        "Teamsters",
        text="We won.",
        created_at="2026-11-18T12:00:00+00:00",
    ).to_dict(),
)


def _links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_a_card_links_every_facet_by_byte_offset_and_shows_all_it_carries():
    html = str(card_html(POST, "America/New_York"))
    links = _links(html)
    for href in (
        "https://bsky.app/profile/did:plc:teamsters",
        "https://bsky.app/hashtag/union-made",
        "https://nyt.com/2026/11/strike-ends",
        "https://bsky.app/profile/ohio.example/post/3abc",
        "https://bsky.app/profile/teamsters.bsky.social/post/9q",
    ):
        assert href in links, href
    # two images: a grid of thumbnails, each with its alt text
    assert 'src="https://cdn.example/t1.jpg" alt="A"' in html
    assert 'src="https://cdn.example/t2.jpg" alt="B"' in html
    # the shown text is the post's own (shortened link text), linked whole
    assert '">nyt.com/2026/11/strike…</a>' in html
    assert '">#union-made</a>' in html
    assert '">@teamsters.bsky.social</a>' in html
    assert "The strike ends &lt;with a deal&gt;" in html
    assert "Members ratify." in html and "nyt.com</p>" in html
    assert "We won." in html  # the quoted post, nested
    assert "November 19, 2026, 10:00 AM EST" in html  # the newsletter's zone, with time
    assert "View on Bluesky" in html
    assert ">OA</div>" in html  # no avatar: the initials stand in


def test_an_avatar_shows_initials_when_it_cannot_load_and_unsafe_urls_are_dropped():
    post = SocialPost(
        "bluesky",
        "javascript:alert(1)",
        "x.example",
        "Building Trades Council",
        avatar_url="https://cdn.example/a.jpg",
        text="hi",
        facets=[{"start": 0, "end": 2, "kind": "link", "value": "javascript:alert(1)"}],
        images=[{"url": "data:image/png;base64,xx", "thumb": "", "alt": "x"}],
    )
    html = str(card_html(post, "UTC"))
    assert 'src="https://cdn.example/a.jpg" alt="BT"' in html
    assert "javascript:" not in html and "data:" not in html
    assert initials(SocialPost("x", "", "@solo", "")) == "S"


def test_facets_off_character_boundaries_or_overlapping_are_shown_as_plain_text():
    text = "é #a #b"
    post = SocialPost(
        "bluesky",
        "https://bsky.app/profile/a/post/1",
        "a",
        "A",
        text=text,
        facets=[
            {"start": 1, "end": 2, "kind": "tag", "value": "bad"},  # inside 'é'
            {"start": 3, "end": 5, "kind": "tag", "value": "a"},
            {"start": 4, "end": 8, "kind": "tag", "value": "overlap"},
        ],
    )
    html = str(card_html(post, "UTC"))
    assert "hashtag/bad" not in html and "hashtag/overlap" not in html
    assert '">#a</a>' in html and "é" in html and "#b" in html


def test_the_text_part_spells_out_shortened_links_images_card_and_quote():
    text = card_text(POST, "America/New_York")
    assert "nyt.com/2026/11/strike… <https://nyt.com/2026/11/strike-ends>" in text
    assert "[Image: A]" in text and "[Image: B]" in text
    assert "Link: The strike ends <with a deal> <https://nyt.com/2026/11/strike-ends>" in text
    assert "> Quoting Teamsters (@teamsters.bsky.social)" in text
    assert text.rstrip().endswith("https://bsky.app/profile/ohio.example/post/3abc")


def test_post_time_is_local_with_its_zone():
    assert post_time(POST, "America/Los_Angeles") == "November 19, 2026, 7:00 AM PST"
    assert post_time(SocialPost("x", "", "a", "a"), "UTC") == ""


def test_the_email_and_archive_render_every_link_of_a_collected_post(make_settings):
    settings = make_settings()
    item = Item(
        "bsky",
        "at://did:plc:ohio/app.bsky.feed.post/3abc",
        POST.post_url,
        "Solidarity",
        Origin("Ohio AFL-CIO", "state_federation", "OH"),
        datetime(2026, 11, 19, 15, tzinfo=UTC),
        post=POST,
    )
    section = Section(
        "in_the_states",
        "In the States",
        "",
        "in_the_states",
        groups=[Group("Ohio AFL-CIO", [item])],
    )
    end = datetime(2026, 11, 20, 21, tzinfo=UTC)
    edition = Edition("weekly", "Weekly", "Weekly", end.replace(day=13), end, [section])
    renderer = Renderer(settings)
    email = renderer.email(edition)
    page = renderer.web_page(edition)
    for href in (
        "https://bsky.app/profile/did:plc:teamsters",
        "https://bsky.app/hashtag/union-made",
        "https://nyt.com/2026/11/strike-ends",
        "https://bsky.app/profile/teamsters.bsky.social/post/9q",
    ):
        assert href in _links(email.html), href
        assert href in _links(page), href
    # the text part spells out links; mentions and hashtags read as themselves
    assert "<https://nyt.com/2026/11/strike-ends>" in email.text
    assert "https://bsky.app/profile/teamsters.bsky.social/post/9q" in email.text
    assert "@teamsters.bsky.social" in email.text and "#union-made" in email.text
