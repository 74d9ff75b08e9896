"""The public archive: index, edition pages from editions.web_html, the Atom feed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import urljoin

from fastapi.testclient import TestClient

from digest.store import Store

from .conftest import add_edition

ATOM = "{http://www.w3.org/2005/Atom}"
# Friday 20 November 2026, 16:00 in New York (21:00 UTC)
FRIDAY = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
# 20:00 in New York on Friday 13 November is already Saturday in UTC
LATE_FRIDAY = datetime(2026, 11, 14, 1, 0, tzinfo=UTC)


def test_edition_page_serves_the_stored_web_html(client: TestClient, store: Store) -> None:
    add_edition(
        store,
        period_end=FRIDAY,
        status="sent",
        web_html="<!DOCTYPE html><html lang='en'><h1>Worker Wins</h1>"
        "<a href='%%DIGEST_PREFERENCES_URL%%'>prefs</a></html>",
    )
    response = client.get("/archive/weekly/2026-11-20/")
    assert response.status_code == 200
    assert "<h1>Worker Wins</h1>" in response.text
    assert "%%DIGEST" not in response.text  # no personal marker reaches a public page
    assert response.headers["referrer-policy"] == "no-referrer"


def test_edition_date_is_the_newsletters_local_date(client: TestClient, store: Store) -> None:
    add_edition(store, period_end=LATE_FRIDAY, status="sent", web_html="<p>late friday</p>")
    assert "late friday" in client.get("/archive/weekly/2026-11-13/").text


def test_drafts_and_held_editions_are_not_public(client: TestClient, store: Store) -> None:
    add_edition(store, period_end=FRIDAY, status="draft", subject="Secret draft")
    assert client.get("/archive/weekly/2026-11-20/").status_code == 404
    assert "Secret draft" not in client.get("/archive/weekly/").text
    assert b"Secret draft" not in client.get("/archive/weekly/feed.xml").content


def test_unknown_pages_are_404(client: TestClient) -> None:
    for path in (
        "/archive/nope/",
        "/archive/nope/feed.xml",
        "/archive/weekly/2026-13-01/",
        "/archive/weekly/yesterday/",
        "/archive/weekly/2026-11-20/",
    ):
        assert client.get(path).status_code == 404, path


def test_index_lists_published_editions_newest_first(client: TestClient, store: Store) -> None:
    add_edition(store, period_end=LATE_FRIDAY, status="sent", subject="Older edition")
    add_edition(store, period_end=FRIDAY, status="sent", subject="Newer edition")
    html = client.get("/archive/weekly/").text
    assert html.index("Newer edition") < html.index("Older edition")
    links = re.findall(r'href="(20\d\d-\d\d-\d\d/)"', html)
    assert len(links) == 2
    for link in links:  # every edition link, resolved as a browser would, is a page
        page = client.get(urljoin("http://testserver/archive/weekly/", link))
        assert page.status_code == 200, link
    assert 'href="feed.xml"' in html


def test_atom_feed_lists_editions_with_public_links(client: TestClient, store: Store) -> None:
    add_edition(store, period_end=FRIDAY, status="sent", subject="Wins & losses <this week>")
    response = client.get("/archive/weekly/feed.xml")
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    assert feed.findtext(f"{ATOM}title") == "Weekly"
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "Wins & losses <this week>"
    link = entry.find(f"{ATOM}link")
    assert link is not None
    assert link.get("href") == "https://digest.example.org/archive/weekly/2026-11-20/"
    assert entry.findtext(f"{ATOM}updated", "").startswith("2026-11-20T21:00")


def test_home_links_every_newsletter_archive(client: TestClient) -> None:
    html = client.get("/").text
    assert 'href="/archive/weekly/"' in html and 'href="/archive/states/"' in html
    assert 'href="/subscribe"' in html
