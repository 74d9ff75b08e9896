"""Every kind of feed a federation's affiliates publish, collected over a real local HTTP
server with the Content-Type such servers send, then rendered as the email.

For each fixture (tests/sources/realworld.py lists them): the stored items' title, link,
date, excerpt, lead image and body, the skip counts and warnings in the run report; and
in the rendered email, every story's link, no tracker, no fixed width over the column.
"""

from __future__ import annotations

import re

import pytest
from tests.sources.realworld import (
    CASES,
    FIRST_SEEN,
    REALWORLD,
    TRACKERS,
    Case,
    render,
)

from digest.models import Item
from digest.sanitize import plain_text
from digest.store import Store
from digest.store.items import items_between

WINDOW = (FIRST_SEEN.replace(year=2026, month=1, day=1), FIRST_SEEN.replace(year=2027))
IMG_WIDTH = re.compile(r'<img\b[^>]*\bwidth="(\d+)', re.IGNORECASE)


def _stored(store: Store, source: str) -> list[Item]:
    with store.session() as session:
        return items_between(session, *WINDOW, [source])


def _collect_case(case: Case, server, local_settings, collect_run):
    source = case.fixture.rsplit(".", 1)[0]
    server.add(
        "/" + case.fixture, (REALWORLD / case.fixture).read_bytes(), content_type=case.served_as
    )
    origin = {"name": case.fixture, "kind": "affiliate"}
    settings = local_settings(
        {source: {"type": "feed", "url": server.url("/" + case.fixture), "origin": origin}}
    )
    return source, settings, collect_run(settings)


def test_there_are_at_least_25_fixtures_and_each_has_a_case() -> None:
    files = {p.name for p in REALWORLD.iterdir()}
    assert len(files) >= 25
    assert files == {case.fixture for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.fixture for c in CASES])
def test_feed_items_are_stored_right(case: Case, server, local_settings, collect_run, store):
    source, _, report = _collect_case(case, server, local_settings, collect_run)

    assert (report.sources_read, report.sources_failed) == (1, 0), report.warnings
    stored = sorted(_stored(store, source), key=lambda i: i.published_at, reverse=True)
    expected = sorted(case.items, key=lambda e: e.date, reverse=True)
    assert [i.title for i in stored] == [e.title for e in expected]
    for item, expect in zip(stored, expected, strict=True):
        assert item.url == expect.url, item.title
        assert item.published_at == expect.date, item.title
        assert plain_text(item.summary).startswith(expect.excerpt), item.summary
        assert len(plain_text(item.summary)) <= 400 + len("Listen (MP3, 42 min)") + 1
        assert (item.media[0].url if item.media else "") == expect.image, item.title
        for wanted in expect.body_has:
            assert wanted in item.body, (item.title, wanted)
        for unwanted in expect.body_lacks:
            assert unwanted not in item.body, (item.title, unwanted)
        assert item.title != item.url and not item.title.startswith("http")
    assert report.skipped.get(source, {}) == case.skipped
    if case.warning:
        assert any(case.warning in w for w in report.warnings), report.warnings
    else:
        assert report.warnings == []


@pytest.mark.parametrize("case", CASES, ids=[c.fixture for c in CASES])
def test_feed_items_render_without_trackers_or_wide_images(
    case: Case, server, local_settings, collect_run, store
):
    source, settings, _ = _collect_case(case, server, local_settings, collect_run)
    items = sorted(_stored(store, source), key=lambda i: i.published_at, reverse=True)

    html, text = render(settings, items)

    for tracker in TRACKERS:
        assert tracker not in html and tracker not in text, tracker
    for item in items:
        assert f'href="{item.url.replace("&", "&amp;")}"' in html, item.url
        assert item.title.replace("&", "&amp;").replace("'", "&#39;") in html
    assert all(int(width) <= 600 for width in IMG_WIDTH.findall(html))
    # the lead image is shown once, however many sizes of it the feed carried
    if items and items[0].media:
        assert html.count(items[0].media[0].url.replace("&", "&amp;")) == 1


def test_podcast_episodes_get_a_listen_link(server, local_settings, collect_run, store):
    case = next(c for c in CASES if c.fixture == "podcast.xml")
    source, settings, _ = _collect_case(case, server, local_settings, collect_run)
    [episode] = _stored(store, source)

    html, text = render(settings, [episode])

    mp3 = "https://media.solidarityhour.example.org/episodes/088.mp3"
    assert episode.extra["audio"] == {"url": mp3, "type": "audio/mpeg", "duration": "42 min"}
    assert f'href="{mp3}"' in html and "Listen (MP3, 42 min)" in html
    assert "Listen (MP3, 42 min)" in text and f"({mp3})" in text
    assert episode.body.endswith(
        f'<a href="{mp3}" rel="noopener noreferrer">Listen (MP3, 42 min)</a></p>'
    )


def test_the_drupal_article_is_cut_to_an_excerpt_and_the_email_stays_small(
    server, local_settings, collect_run, store
):
    case = next(c for c in CASES if c.fixture == "drupal.xml")
    source, settings, _ = _collect_case(case, server, local_settings, collect_run)
    [article] = _stored(store, source)
    assert len((REALWORLD / "drupal.xml").read_bytes()) > 7000
    assert len(plain_text(article.summary)) <= 400
    assert len(article.body) > 5000  # the whole story stays for the spotlight

    html, _ = render(settings, [article] * 10)  # ten such stories in a list

    assert len(html.encode()) < 100_000  # under Gmail's clipping size


def test_the_text_part_keeps_list_items_and_line_breaks(settings) -> None:
    from dataclasses import replace

    from tests.sources.realworld import utc

    from digest.models import Origin

    body = (
        "<p>What we won:</p><ul><li>Heat breaks above 90 degrees</li>"
        "<li>Water and shade at every site</li></ul><p>Signed,<br>The bargaining team</p>"
    )
    story = Item("s", "g", "https://u.example.org/win", "We won", Origin("U"), utc(19, 12))
    _, text = render(settings, [replace(story, body=body, summary=body)])

    assert "- Heat breaks above 90 degrees\n" in text
    assert "- Water and shade at every site" in text
    assert "Signed,\nThe bargaining team" in text
    assert "> - Heat breaks above 90 degrees\n  > - Water" in text  # the list's excerpt too
