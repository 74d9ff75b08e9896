"""Feeds over a real local HTTP server and from local paths, through digest.sources.collect."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from digest.models import Media
from digest.store import Store
from digest.store.items import items_between
from digest.store.tables import ItemRow, SourceState

FIXTURES = Path(__file__).parent / "fixtures"
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def _items(store: Store, source: str) -> dict[str, object]:
    with store.session() as session:
        return {i.guid: i for i in items_between(session, *WINDOW, [source])}


def _count(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(ItemRow)) or 0)


def _origin(name: str, kind: str = "affiliate", state: str | None = None) -> dict[str, object]:
    return {"name": name, "kind": kind, **({"state": state} if state else {})}


def test_rss_atom_json_and_local_path_all_land(
    server, local_settings, collect_run, store, now, tmp_path
):
    server.serve("/rss", FIXTURES / "rss.xml")
    server.serve("/atom", FIXTURES / "atom.xml", "application/atom+xml")
    server.serve("/json", FIXTURES / "feed.json", "application/feed+json")
    (tmp_path / "local-atom.xml").write_bytes((FIXTURES / "local-atom.xml").read_bytes())
    settings = local_settings(
        {
            "nurses": {
                "type": "feed",
                "url": server.url("/rss"),
                "origin": _origin("Riverside Nurses", state="OR"),
                "tags": ["affiliates"],
            },
            "lakeshore": {
                "type": "feed",
                "url": server.url("/atom"),
                "origin": _origin("Lakeshore Fed", "state_federation", "MI"),
            },
            "teachers": {"type": "feed", "url": server.url("/json"), "origin": _origin("HT")},
            "local": {
                "type": "feed",
                "path": "local-atom.xml",
                "origin": _origin("Local copy"),
            },
        }
    )
    report = collect_run(settings, now=now)

    assert report.sources_read == 4 and report.sources_failed == 0
    # 2 RSS (the October entry is older than the window), 1 Atom twice, 2 JSON
    assert report.items_new == 6
    assert any("JSON Feed item 3" in w for w in report.warnings)

    rss = _items(store, "nurses")
    assert set(rss) == {"nurses-2026-ratified", "https://nurses.example.org/news/rally"}
    ratified = rss["nurses-2026-ratified"]
    assert ratified.title == "Nurses ratify a contract with safe staffing ratios"
    assert ratified.published_at == datetime(2026, 11, 18, 19, 30, tzinfo=UTC)
    assert ratified.author == "Dana Ortiz"
    assert ratified.tags == ("contracts", "health care", "affiliates")
    assert ratified.media == (Media("https://nurses.example.org/img/vote.jpg"),)
    assert ratified.origin.name == "Riverside Nurses" and ratified.origin.state == "OR"
    for unsafe in ("onclick", "javascript:", "<script", "alert", "open.gif"):
        assert unsafe not in ratified.summary
    assert "Members voted 94% to ratify." in ratified.summary
    # relative links in content resolve against the entry's own link
    assert 'href="https://nurses.example.org/news/ratified#terms"' in ratified.body
    assert rss["https://nurses.example.org/news/rally"].media[0].url.endswith("rally-thumb.jpg")

    atom = _items(store, "lakeshore")["tag:lakeshore.example.org,2026:min-wage"]
    assert atom.title == "Minimum wage bill passes the senate"
    assert atom.summary == "<p>The bill raises the wage floor to $17 by 2028 &amp; indexes it.</p>"
    assert "iframe" not in atom.body and "21–12" in atom.body
    assert atom.author == "Lee Park" and atom.origin.kind == "state_federation"
    assert atom.published_at == datetime(2026, 11, 19, 17, 0, tzinfo=UTC)  # from <updated>
    # a relative `path` resolves against the config's folder
    assert "tag:archive.example.org,2026:min-wage" in _items(store, "local")

    teachers = _items(store, "teachers")
    win = teachers["ht-42"]
    assert win.title == "Teachers win smaller class sizes"
    assert win.published_at == datetime(2026, 11, 17, 16, 0, tzinfo=UTC)
    assert win.tags == ("education", "wins") and win.author == "Harbor Teachers Comms"
    assert win.media == (Media("https://teachers.example.org/img/class.jpg"),)
    assert "onmouseover" not in win.body and "next fall" in win.body
    town_hall = teachers["ht-43"]
    assert town_hall.body == (
        "<p>Plain text post about a town hall.</p><p>Second paragraph &lt; &amp; &gt;.</p>"
    )
    assert town_hall.title.startswith("Plain text post about a town hall.")


def test_second_collect_sends_conditional_requests_and_gets_304(
    server, local_settings, collect_run, store, now
):
    server.serve("/rss", FIXTURES / "rss.xml", etag='"v1"')
    settings = local_settings(
        {"nurses": {"type": "feed", "url": server.url("/rss"), "origin": _origin("N")}}
    )
    first = collect_run(settings, now=now)
    second = collect_run(settings, now=now)

    assert first.items_new == 2
    assert (second.items_new, second.items_updated, second.sources_read) == (0, 0, 1)
    hits = server.hits_for("/rss")
    assert [h.status for h in hits] == [200, 304]
    assert hits[1].headers.get("If-None-Match") == '"v1"'
    with store.session() as session:
        state = session.get(SourceState, "nurses")
        assert state is not None and state.status == "not_modified" and state.etag == '"v1"'
    assert _count(store) == 2


def test_edited_entry_updates_in_place_and_nothing_duplicates(
    server, local_settings, collect_run, store, now
):
    original = (FIXTURES / "rss.xml").read_bytes()
    server.serve("/rss", FIXTURES / "rss.xml", etag='"v1"')
    settings = local_settings(
        {"nurses": {"type": "feed", "url": server.url("/rss"), "origin": _origin("N")}}
    )
    collect_run(settings, now=now)
    edited = original.replace(b"Rally at the county board", b"Rally moved to Wednesday")
    server.routes["/rss"].body = edited
    server.routes["/rss"].etag = '"v2"'

    report = collect_run(settings, now=now)

    assert (report.items_new, report.items_updated) == (0, 1)
    assert _count(store) == 2
    rally = _items(store, "nurses")["https://nurses.example.org/news/rally"]
    assert rally.title == "Rally moved to Wednesday on Tuesday"


def test_relative_entry_links_resolve_against_xml_base_and_the_feed_url(
    server, local_settings, collect_run, store
):
    """feedparser's URL joins are cached (digest.sources.feeds): the links must come out
    exactly as feedparser resolves them, entry by entry, for bases that differ."""
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://union.example.org/news/">
  <title>Relative</title><id>urn:rel</id><updated>2026-11-18T10:00:00Z</updated>
  <entry><title>One</title><id>urn:1</id><link href="one"/>
    <updated>2026-11-18T10:00:00Z</updated></entry>
  <entry xml:base="/locals/"><title>Two</title><id>urn:2</id><link href="two?x=1"/>
    <updated>2026-11-18T10:00:00Z</updated></entry>
  <entry xml:base="https://other.example.org/a/"><title>Three</title><id>urn:3</id>
    <link href="../three"/><updated>2026-11-18T10:00:00Z</updated></entry>
</feed>"""
    rss = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
        b"<item><title>Four</title><guid>g4</guid><link>/four</link>"
        b"<pubDate>Wed, 18 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    )
    server.add("/atom", atom, content_type="application/atom+xml")
    server.add("/feeds/rss", rss)
    settings = local_settings(
        {
            "atom": {"type": "feed", "url": server.url("/atom"), "origin": _origin("A")},
            "rss": {"type": "feed", "url": server.url("/feeds/rss"), "origin": _origin("R")},
        }
    )
    collect_run(settings)
    links = {guid: item.url for guid, item in _items(store, "atom").items()}  # type: ignore[attr-defined]
    assert links == {
        "urn:1": "https://union.example.org/news/one",
        "urn:2": "https://union.example.org/locals/two?x=1",
        "urn:3": "https://other.example.org/three",
    }
    [item] = _items(store, "rss").values()
    assert item.url == server.url("/four")  # type: ignore[attr-defined]
