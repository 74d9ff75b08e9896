"""The static archive written from stored editions."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

from digest.config import Settings
from digest.models import Edition
from digest.render import Renderer
from digest.site import archive_entries, render_archive_index, write_site
from digest.store import Store
from digest.store.tables import EditionRow

ATOM = "{http://www.w3.org/2005/Atom}"


def store_edition(store: Store, edition: Edition, status: str, web_html: str) -> None:
    with store.session() as session:
        session.add(
            EditionRow(
                newsletter=edition.newsletter,
                period_key=edition.period_key,
                period_start=edition.period_start,
                period_end=edition.period_end,
                title=edition.title,
                subject=edition.subject,
                status=status,
                sections=[s.to_dict() for s in edition.sections],
                html="",
                text="",
                web_html=web_html,
                created_at=edition.period_end,
            )
        )


def shifted(edition: Edition, weeks: int, subject: str) -> Edition:
    delta = timedelta(weeks=weeks)
    return Edition(
        newsletter=edition.newsletter,
        title=edition.title,
        subject=subject,
        period_start=edition.period_start - delta,
        period_end=edition.period_end - delta,
        sections=edition.sections,
    )


def test_write_site_pages_index_and_feed(
    settings: Settings, store: Store, full_edition: Edition
) -> None:
    renderer = Renderer(settings)
    older = shifted(full_edition, 1, "Weekly: November 13, 2026")
    draft = shifted(full_edition, -1, "Weekly: not yet approved")
    store_edition(store, older, "sent", renderer.web_page(older))
    store_edition(store, full_edition, "sent", "")  # no stored page: rendered again
    store_edition(store, draft, "draft", "<p>draft</p>")

    site = write_site(settings, store, "weekly")

    assert site == settings.out_dir / "site"
    newest = site / "archive/weekly/2026-11-20/index.html"
    assert "Service &amp; Solidarity Spotlight" in newest.read_text(encoding="utf-8")
    assert (site / "archive/weekly/2026-11-13/index.html").is_file()
    assert not (site / "archive/weekly/2026-11-27").exists()  # drafts stay private

    index = (site / "archive/weekly/index.html").read_text(encoding="utf-8")
    assert index.index('href="2026-11-20/"') < index.index('href="2026-11-13/"')
    assert "not yet approved" not in index
    assert "1 Test Street" in index  # base layout footer

    feed = ET.fromstring((site / "archive/weekly/feed.xml").read_text(encoding="utf-8"))
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "Weekly: November 20, 2026",
        "Weekly: November 13, 2026",
    ]
    link = entries[0].find(f"{ATOM}link")
    assert link is not None
    assert link.get("href") == "https://digest.example.org/archive/weekly/2026-11-20/"
    assert "Worker Wins" in (entries[0].findtext(f"{ATOM}summary") or "")

    front = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="archive/weekly/"' in front


def test_archive_index_escapes_and_handles_empty(settings: Settings, store: Store) -> None:
    assert archive_entries(settings, store, "weekly") == []
    page = render_archive_index(settings, "weekly", [])
    assert "No editions have been published yet." in page


def test_feed_escapes_titles(settings: Settings, store: Store, full_edition: Edition) -> None:
    edition = shifted(full_edition, 0, 'Pay & "Power" <now>')
    store_edition(store, edition, "sent", "<p>x</p>")
    write_site(settings, store, "weekly")
    raw = (settings.out_dir / "site/archive/weekly/feed.xml").read_text(encoding="utf-8")
    feed = ET.fromstring(raw)  # parses: nothing unescaped broke the XML
    assert feed.findtext(f"{ATOM}entry/{ATOM}title") == 'Pay & "Power" <now>'
