"""Attack (or accident): one control character in a title or excerpt, which made MJML
reject the whole edition on every rerun. Every source type's items are cleaned before
they are stored, and the edition builds and keeps the text around them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from digest.draft import ensure_draft
from digest.errors import TemplateError
from digest.models import RunReport
from digest.pipeline import current_period
from digest.sources import collect
from digest.store import Store

CONTROLS = "\x01\x08\x1b\x0b\x0c\x7f\x85\x9f\ufffe"


def bluesky(request: httpx.Request) -> httpx.Response:
    post = {
        "uri": "at://did:plc:c/app.bsky.feed.post/3c",
        "cid": "bafy3c",
        "author": {"did": "did:plc:c", "handle": "c.bsky.social", "displayName": f"Sky{CONTROLS}"},
        "record": {
            "$type": "app.bsky.feed.post",
            "text": f"Bluesky{CONTROLS} post",
            "createdAt": "2026-11-19T15:00:00Z",
        },
        "indexedAt": "2026-11-19T15:00:00Z",
    }
    return httpx.Response(200, json={"feed": [{"post": post}]})


def test_control_characters_in_any_source_never_sink_the_edition(
    make_settings: Any, store: Store, now: datetime, tmp_path: Path
) -> None:
    # \x01 etc. are not even allowed in XML: the feed parser reads it leniently
    (tmp_path / "feed.xml").write_bytes(
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title><item>"
        b"<title>Feed\x01\x08\x1b title</title><link>https://blog.example/a</link>"
        b"<description>Feed\x1b[31m excerpt</description>"
        b"<pubDate>Thu, 19 Nov 2026 12:00:00 GMT</pubDate></item></channel></rss>"
    )
    (tmp_path / "curated").mkdir()
    (tmp_path / "curated" / "a.yaml").write_text(
        'title: "Curated\\x01\\x1b title"\nurl: https://c.example/a\n'
        'excerpt: "Curated\\x08 excerpt"\ndate: 2026-11-18\n',
        encoding="utf-8",
    )
    (tmp_path / "sheet.csv").write_text(
        f"Title,URL,Excerpt,Date\nCSV{CONTROLS} title,https://s.example/a,CSV{CONTROLS} text,"
        "2026-11-18\n",
        encoding="utf-8",
    )
    origin = {"name": f"Origin{CONTROLS}"}
    settings = make_settings(
        network={"allow_private": True},
        sources={
            "blog": {"type": "feed", "path": str(tmp_path / "feed.xml"), "origin": origin},
            "curated": {"type": "curated", "path": "curated", "origin": origin, "enrich": False},
            "sheet": {"type": "csv", "path": "sheet.csv", "origin": origin, "enrich": False},
            "sky": {"type": "bluesky", "accounts": [{"handle": "c.bsky.social", "origin": origin}]},
        },
    )
    report = RunReport()
    collect(settings, store, report, transport=httpx.MockTransport(bluesky), now=now)
    assert report.sources_failed == 0, report.warnings

    edition = ensure_draft(
        settings, store, "weekly", current_period(settings, "weekly", now), now=now
    )

    assert edition is not None and edition.item_count == 4
    titles = sorted(" ".join(i.title.split()) for s in edition.sections for i in s.items)
    assert titles == ["Bluesky post", "CSV title", "Curated title", "Feed title"]
    for part in (edition.html, edition.text, edition.web_html):
        assert not any(ch in part for ch in CONTROLS)
        assert "Feed title" in part and "Curated title" in part
    assert "Origin" in edition.text


def test_a_render_that_still_fails_names_the_item_and_its_source(
    make_settings: Any, store: Store, now: datetime, tmp_path: Path
) -> None:
    """A deployment's own template that writes a title raw (``|safe``): the MJML error
    must say which item of which source broke it, not just a line of generated MJML."""
    # the list sections write each story through the macros' story()
    shipped = Path(__file__).resolve().parents[2] / "templates/email/macros.mjml.j2"
    override = tmp_path / "templates" / "email" / "macros.mjml.j2"
    override.parent.mkdir(parents=True)
    override.write_text(
        shipped.read_text().replace("{{ v.title_link }}", "{{ v.item.title|safe }}"),
        encoding="utf-8",
    )
    (tmp_path / "curated").mkdir()
    for n, title in enumerate(["A fine story", "Broken < story", "Another one"]):
        (tmp_path / "curated" / f"{n}.yaml").write_text(
            f'title: "{title}"\nurl: https://c.example/{n}\ndate: 2026-11-18\n', encoding="utf-8"
        )
    settings = make_settings(
        templates_dir=str(tmp_path / "templates"),
        sources={
            "desk": {
                "type": "curated",
                "path": "curated",
                "origin": {"name": "Desk"},
                "enrich": False,
            }
        },
    )
    collect(settings, store, RunReport(), now=now)
    with pytest.raises(TemplateError) as failure:
        ensure_draft(settings, store, "weekly", current_period(settings, "weekly", now), now=now)
    message = str(failure.value)
    assert "Broken < story" in message and "source 'desk'" in message
    assert "A fine story" not in message
