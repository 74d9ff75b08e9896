"""Structural checks on the rendered full edition, by parsing its HTML."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from digest.config import Settings
from digest.models import Edition
from digest.render import Renderer, placeholders
from digest.render.checks import MAX_HTML_BYTES


class Tree(HTMLParser):
    """Collects tags with attributes, and text per heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[str] = []
        self._in_heading = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in {"h1", "h2", "h3"}:
            self._in_heading = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"h1", "h2", "h3"}:
            self._in_heading = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_heading:
            self.headings[-1] += data


def parse(html: str) -> Tree:
    tree = Tree()
    tree.feed(html)
    tree.close()
    return tree


@pytest.fixture
def html(settings: Settings, full_edition: Edition) -> str:
    return Renderer(settings).email(full_edition).html


def test_no_mjml_left_and_every_section_title_present(html: str, full_edition: Edition) -> None:
    assert "<mj-" not in html
    headings = parse(html).headings
    for section in full_edition.sections:
        assert section.title in headings
    assert "Lakeland State AFL-CIO" in headings  # group headings too


def test_every_image_has_alt(html: str) -> None:
    images = [attrs for tag, attrs in parse(html).tags if tag == "img"]
    assert len(images) >= 4  # avatars, post media, spotlight image
    assert all("alt" in attrs for attrs in images)
    alts = {attrs["alt"] for attrs in images}
    assert "Ironworkers lift a new slide into place" in alts


def test_footer_has_address_and_recipient_links(html: str, settings: Settings) -> None:
    footer = html[html.rindex(settings.organization.name) :]
    assert settings.organization.postal_address in footer
    links = [attrs.get("href") for tag, attrs in parse(footer).tags if tag == "a"]
    assert placeholders.UNSUBSCRIBE_URL in links
    assert placeholders.PREFERENCES_URL in links


def test_styles_are_inlined(html: str) -> None:
    titles = [attrs for tag, attrs in parse(html).tags if tag == "h2"]
    assert titles
    for attrs in titles:
        assert "color:#0b4f8a" in (attrs.get("style") or "")
    quotes = [attrs for tag, attrs in parse(html).tags if tag == "blockquote"]
    assert all("border-left" in (attrs.get("style") or "") for attrs in quotes)


def test_size_is_reported_and_under_limit(settings: Settings, full_edition: Edition) -> None:
    rendered = Renderer(settings).email(full_edition)
    assert rendered.html_bytes == len(rendered.html.encode("utf-8"))
    assert 5_000 < rendered.html_bytes < MAX_HTML_BYTES


def test_view_in_browser_links_to_archive_page(html: str) -> None:
    links = [attrs.get("href") for tag, attrs in parse(html).tags if tag == "a"]
    assert "https://digest.example.org/archive/weekly/2026-11-20/" in links


def test_call_to_action_is_a_button(html: str) -> None:
    # mj-button renders a link inside a table cell with a background colour.
    tree = parse(html)
    cta = [
        attrs
        for tag, attrs in tree.tags
        if attrs.get("href") == "https://action.example.org/organize-act"
    ]
    assert cta and "background" in (cta[0].get("style") or "")


def test_text_part_reads_as_text(settings: Settings, full_edition: Edition) -> None:
    text = Renderer(settings).email(full_edition).text
    assert "<" not in text.replace("<https", "")
    assert "WORKER WINS\n-----------" in text
    assert "  > “We guard priceless art; now our time is valued too.”" in text
    assert "https://ledger.example.com/2026/11/bus-drivers-strike-vote" in text
    assert f"Unsubscribe: {placeholders.UNSUBSCRIBE_URL}" in text
    assert settings.organization.postal_address in text
    assert "\n\n\n" not in text


def test_web_page_has_content_without_markers(settings: Settings, full_edition: Edition) -> None:
    page = Renderer(settings).web_page(full_edition)
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in page
    for marker in placeholders.ALL:
        assert marker not in page
    headings = parse(page).headings
    assert all(section.title in headings for section in full_edition.sections)
    assert settings.organization.postal_address in page
    assert "<script" not in page and "<iframe" not in page


def test_dates_use_newsletter_timezone(settings: Settings, make_edition, section_builders) -> None:  # type: ignore[no-untyped-def]
    # 2026-11-18 02:30 UTC is still Nov 17 in New York (the newsletter's zone).
    from datetime import UTC, datetime

    section = section_builders["in_the_states"]()
    section.groups[0].items[0].published_at = datetime(2026, 11, 18, 2, 30, tzinfo=UTC)
    html = Renderer(settings).email(make_edition([section])).html
    assert "November 17, 2026" in html
