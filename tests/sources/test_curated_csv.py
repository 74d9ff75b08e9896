"""Curated YAML/Markdown folders and CSV sheets, with URL-only items enriched from the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent

from digest.models import Media
from digest.store import Store
from digest.store.items import items_between

WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
ORIGIN = {"name": "Federation Comms", "kind": "own_blog", "url": "https://fed.example.org"}


def items_by_title(store: Store, source: str) -> dict[str, object]:
    with store.session() as session:
        return {i.title: i for i in items_between(session, *WINDOW, [source])}


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(dedent(text).lstrip(), encoding="utf-8")


def test_curated_yaml_and_markdown_items_with_per_item_origin(
    local_settings, collect_run, store, now, tmp_path
):
    folder = tmp_path / "curated"
    write(
        folder,
        "win.yaml",
        """
        title: Warehouse workers win heat protections
        url: https://news.example.com/heat
        excerpt: New rules require water, shade and rest breaks.
        date: 2026-11-18
        tags: [worker_wins, safety]
        state: CA
        quote: We stood together and it worked.
        quote_by: Maria, picker
        """,
    )
    write(
        folder,
        "clips.yml",
        """
        - title: Bus drivers reach a deal
          url: https://ledger.example.com/bus
          outlet: Daily Ledger
          date: 2026-11-17
        - title: Clip with a broken date
          url: https://ledger.example.com/broken
          date: next tuesday
        - title: Last spring's clip
          url: https://ledger.example.com/old
          date: 2026-04-01
        """,
    )
    write(
        folder,
        "story.md",
        """
        ---
        title: Spotlight on the food bank volunteers
        date: 2026-11-19T15:00:00-05:00
        kind: affiliate
        titel: a typo
        image: https://fed.example.org/img/foodbank.jpg
        image_alt: Volunteers packing boxes
        ---
        Every Saturday, **forty members** pack boxes.

        <script>alert('x')</script>
        [Volunteer](https://fed.example.org/volunteer)
        """,
    )
    write(folder, "broken.yaml", "title: [unclosed\nurl: https://x.example.org\n")
    write(folder, "no-front-matter.md", "Just text.\n")
    write(folder, "empty-item.yaml", "tags: [x]\n")
    settings = local_settings(
        {"staff": {"type": "curated", "path": "curated", "origin": ORIGIN, "enrich": False}}
    )

    report = collect_run(settings, now=now)

    assert report.sources_read == 1 and report.items_new == 3
    items = items_by_title(store, "staff")
    win = items["Warehouse workers win heat protections"]
    assert win.extra == {"quote": "We stood together and it worked.", "quote_by": "Maria, picker"}
    assert win.summary == "<p>New rules require water, shade and rest breaks.</p>"
    assert win.published_at == datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    assert win.tags == ("worker_wins", "safety")
    assert (win.origin.name, win.origin.kind, win.origin.state) == (
        "Federation Comms",
        "own_blog",
        "CA",
    )
    clip = items["Bus drivers reach a deal"]
    assert (clip.origin.name, clip.origin.kind, clip.origin.url) == (
        "Daily Ledger",
        "news_outlet",
        None,
    )
    story = items["Spotlight on the food bank volunteers"]
    assert "<strong>forty members</strong>" in story.body
    assert "script" not in story.body and "alert" not in story.body
    assert 'href="https://fed.example.org/volunteer"' in story.body
    # a Markdown clip without an excerpt: its body's first paragraphs are the excerpt
    assert story.summary == "<p>Every Saturday, forty members pack boxes. Volunteer</p>"
    assert story.origin.kind == "affiliate"
    assert story.media == (
        Media("https://fed.example.org/img/foodbank.jpg", "Volunteers packing boxes"),
    )
    assert story.url == "" and story.published_at == datetime(2026, 11, 19, 20, 0, tzinfo=UTC)

    warnings = "\n".join(report.warnings)
    assert "clips.yml item 2: field 'date'" in warnings
    assert "story.md: unknown field 'titel'" in warnings
    assert "broken.yaml: not valid YAML at line" in warnings
    assert "no-front-matter.md: no YAML front matter" in warnings
    assert "empty-item.yaml: needs a 'url' or a 'title'" in warnings
    assert all(w.startswith("source 'staff'") for w in report.warnings)

    again = collect_run(settings, now=now)
    assert (again.items_new, again.items_updated) == (0, 0)


CSV_TEXT = (
    "\ufeffTitle,URL,Excerpt,Outlet,Date,Tags,State\r\n"
    "Nurses strike ends,https://paper.example.com/a,Deal reached,Metro Paper,2026-11-16,"
    '"wins, health",NY\r\n'
    ",,no title and no url,,2026-11-16,,\r\n"
    '"A title with a\nline break",https://paper.example.com/b,"Two\nlines",,11/17/2026,,\r\n'
    "Bad date row,https://paper.example.com/c,,,someday,,\r\n"
    ",,,,,,\r\n"
    "Undated row,https://paper.example.com/d,Ok,,,,\r\n"
)


def test_csv_rows_land_and_bad_rows_are_reported_by_line(
    server, local_settings, collect_run, store, now
):
    server.add("/sheet.csv", CSV_TEXT.encode("utf-8"), content_type="text/csv")
    settings = local_settings(
        {
            "sheet": {
                "type": "csv",
                "url": server.url("/sheet.csv"),
                "origin": ORIGIN,
                "enrich": False,
                "tags": ["press"],
            }
        }
    )
    report = collect_run(settings, now=now)

    assert report.items_new == 3 and report.sources_failed == 0
    items = items_by_title(store, "sheet")
    strike = items["Nurses strike ends"]
    assert strike.origin.name == "Metro Paper" and strike.origin.kind == "news_outlet"
    assert strike.origin.state == "NY" and strike.tags == ("wins", "health", "press")
    assert items["A title with a line break"].summary == "<p>Two lines</p>"
    undated = items["Undated row"]
    assert undated.published_at == now
    warnings = [w for w in report.warnings if w.startswith("source 'sheet'")]
    assert len(warnings) == 2
    assert "line 3: needs a 'url' or a 'title'" in warnings[0]
    # two quoted line breaks make the record starting on line 4 span lines 4-6
    assert "line 7: field 'date': 'someday' is not a date" in warnings[1]

    later = collect_run(settings, now=now + timedelta(days=1))
    assert (later.items_new, later.items_updated) == (0, 0)  # undated rows keep their date


def test_url_only_items_are_filled_in_from_the_page(
    server, local_settings, collect_run, store, now, tmp_path
):
    page = b"""<!doctype html><html><head>
    <title>Fallback title | Site</title>
    <meta property="og:title" content="Grocery workers ratify first contract">
    <meta property="og:description" content="A 3-year deal with raises &amp; seniority.">
    <meta property="og:site_name" content="Valley Courier">
    <meta property="og:image" content="/img/rally.jpg">
    <meta property="og:image:alt" content="Workers at a rally">
    </head><body><p>Story</p></body></html>"""
    server.add("/story", page, content_type="text/html; charset=utf-8")
    server.add(
        "/plain", b"<html><head><title>Only a title</title></head></html>", content_type="text/html"
    )
    (tmp_path / "links.csv").write_text(
        "url,kind\n"
        f"{server.url('/story')},news_outlet\n"
        f"{server.url('/plain')},\n"
        f"{server.url('/gone')},\n",
        encoding="utf-8",
    )
    settings = local_settings({"links": {"type": "csv", "path": "links.csv", "origin": ORIGIN}})
    report = collect_run(settings, now=now)

    assert report.items_new == 3
    items = items_by_title(store, "links")
    story = items["Grocery workers ratify first contract"]
    assert story.summary == "<p>A 3-year deal with raises &amp; seniority.</p>"
    assert story.origin.name == "Valley Courier"  # og:site_name as the missing outlet
    assert story.media == (Media(server.url("/img/rally.jpg"), "Workers at a rally"),)
    plain = items["Only a title"]
    assert plain.origin.name == "Federation Comms" and plain.summary == ""
    assert server.url("/gone") in items  # failed enrichment keeps the URL as the title
    assert any("line 4" in w and "HTTP 404" in w for w in report.warnings)
