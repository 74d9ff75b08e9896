"""Undated entries keep the date they were first seen; skips are counted per source;
series posts are routed by title and lose their boilerplate opening."""

from __future__ import annotations

from datetime import timedelta

from tests.sources.realworld import FIRST_SEEN, REALWORLD

from digest.cli.core import skipped_lines
from digest.formats import build_sections
from digest.store.items import items_between
from digest.timing import Period

ORIGIN = {"name": "Local 88", "kind": "affiliate"}


def _feed(server, local_settings, name: str, **options):
    server.add("/" + name, (REALWORLD / name).read_bytes(), content_type="text/xml")
    source = {"type": "feed", "url": server.url("/" + name), "origin": ORIGIN, **options}
    return local_settings({"feed": source})


def test_undated_entries_belong_to_the_period_they_first_appeared_in_once(
    server, local_settings, collect_run, store
):
    settings = _feed(server, local_settings, "undated.xml")
    week = timedelta(days=7)
    first = collect_run(settings, now=FIRST_SEEN)
    # a week later the same two pages are still in the feed, still without dates
    later = collect_run(settings, now=FIRST_SEEN + week)
    even_later = collect_run(settings, now=FIRST_SEEN + 2 * week)

    assert first.items_new == 2
    assert (later.items_new, later.items_updated) == (0, 0)
    assert (even_later.items_new, even_later.items_updated) == (0, 0)
    with store.session() as session:
        this_week = items_between(session, FIRST_SEEN - week, FIRST_SEEN + timedelta(hours=1))
        next_week = items_between(session, FIRST_SEEN + timedelta(hours=1), FIRST_SEEN + 3 * week)
    assert sorted(i.title for i in this_week) == ["About Local 88", "Contact the union hall"]
    assert next_week == []  # never re-stamped into a later edition
    assert all(i.published_at == FIRST_SEEN for i in this_week)
    assert later.skipped == {"feed": {"no date": 2}}


def test_an_undated_entry_with_no_link_or_id_has_a_stable_identity(
    server, local_settings, collect_run, store
):
    rss = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
        b"<item><description>Hall closed Monday for the holiday.</description></item>"
        b"</channel></rss>"
    )
    server.add("/rss", rss, content_type="text/xml")
    settings = local_settings(
        {"feed": {"type": "feed", "url": server.url("/rss"), "origin": ORIGIN}}
    )
    first = collect_run(settings, now=FIRST_SEEN)
    second = collect_run(settings, now=FIRST_SEEN + timedelta(days=3))

    assert (first.items_new, second.items_new, second.items_updated) == (1, 0, 0)
    with store.session() as session:
        [item] = items_between(
            session, FIRST_SEEN - timedelta(days=1), FIRST_SEEN + timedelta(days=9)
        )
    assert item.title == "Hall closed Monday for the holiday."
    assert item.guid.startswith("sha1:") and item.published_at == FIRST_SEEN


def test_the_entry_cap_reads_the_newest_and_counts_the_rest(server, local_settings, collect_run):
    entries = b"".join(
        b"<item><title>Story %d</title><link>https://l.example.org/%d</link>"
        b"<pubDate>%s</pubDate></item>"
        % (n, n, (FIRST_SEEN - timedelta(hours=n)).strftime("%a, %d %b %Y %H:%M:%S GMT").encode())
        for n in range(40)
    )
    rss = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>" + entries
    server.add("/rss", rss + b"</channel></rss>", content_type="application/rss+xml")
    settings = local_settings(
        {"feed": {"type": "feed", "url": server.url("/rss"), "origin": ORIGIN, "max_entries": 10}}
    )

    report = collect_run(settings, now=FIRST_SEEN)

    assert report.items_new == 10
    assert report.skipped == {"feed": {"over max_entries": 30}}
    assert any("40 entries; read the newest 10 (max_entries)" in w for w in report.warnings)


def test_the_report_names_each_reason_with_the_window(server, local_settings, collect_run):
    settings = _feed(server, local_settings, "wordpress.xml")
    report = collect_run(settings, now=FIRST_SEEN)

    since = (FIRST_SEEN - timedelta(days=8)).isoformat(timespec="minutes")
    assert skipped_lines(report) == [f"source 'feed': 1 too old (before {since})"]


def test_series_posts_are_routed_by_title_and_lose_their_lead_sentence(
    server, local_settings, collect_run, store, make_settings
):
    settings = _feed(server, local_settings, "own-blog-series.xml")
    collect_run(settings, now=FIRST_SEEN)
    lead = (
        "Working people across the United States regularly step up to help their "
        "communities. In this series, we highlight some of those efforts."
    )
    formats = {
        "spotlight": {
            "strategy": "single",
            "title": "Service & Solidarity Spotlight",
            "template": "spotlight",
            "select": {"title_prefixes": ["Service & Solidarity Spotlight:"]},
            "strip_lead": [lead],
        },
        "worker_wins": {
            "strategy": "list",
            "title": "Worker Wins",
            "template": "worker_wins",
            "select": {"title_pattern": "^worker wins:"},
        },
    }
    newsletter = {
        "title": "Weekly",
        "schedule": "fri 16:00",
        "timezone": "America/New_York",
        "formats": ["spotlight", "worker_wins"],
    }
    routed = make_settings(formats=formats, newsletters={"weekly": newsletter})
    with store.session() as session:
        sections = build_sections(
            routed, session, "weekly", Period(FIRST_SEEN - timedelta(days=7), FIRST_SEEN)
        )

    spotlight, wins = sections
    [story] = spotlight.items
    assert story.title == "Service & Solidarity Spotlight: Nurses Run a Winter Coat Drive"
    assert story.summary.startswith("<p>This week, nurses in Riverside collected 1,400")
    assert story.body.startswith("<p>This week, nurses in Riverside collected 1,400")
    assert [i.title for i in wins.items] == [
        "Worker Wins: Transit Mechanics Secure Heat Protections"
    ]


def test_a_bad_title_pattern_is_a_config_error(make_settings) -> None:
    import pytest

    from digest.errors import ConfigError

    formats = {
        "wins": {
            "strategy": "list",
            "title": "Wins",
            "template": "worker_wins",
            "select": {"title_pattern": "(unclosed"},
        }
    }
    with pytest.raises(ConfigError) as caught:
        make_settings(formats=formats)
    assert any("formats.wins.select.title_pattern" in p for p in caught.value.problems)
