"""The email made from every real-world fixture, opened in headless Chromium (Debian's
``chromium``, driven by Playwright) at a phone's 375 px: wide pictures scale and code
blocks wrap, so nothing pushes the page wider than the screen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.sources.realworld import CASES, FIRST_SEEN, REALWORLD

from digest.config import FeedSource
from digest.models import Edition, Item, Section
from digest.render import Renderer
from digest.sources.feeds import FeedJob, parse_feed

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (/usr/bin/chromium); "
        "install it with: apt-get install -y chromium",
    ),
]

# The widest element of the page, and the page's own width.
MEASURE = """
() => {
  let widest = '', most = 0;
  for (const el of document.body.querySelectorAll('*')) {
    const right = el.getBoundingClientRect().right;
    if (right > most) { most = right; widest = el.tagName + ' ' + (el.getAttribute('src') || ''); }
  }
  return [document.documentElement.scrollWidth, Math.round(most), widest];
}
"""


def _all_items() -> list[Item]:
    items = []
    for case in CASES:
        path = REALWORLD / case.fixture
        config = FeedSource(type="feed", path=path, origin={"name": case.fixture})
        job = FeedJob(
            case.fixture, config, f"https://feeds.example.net/{case.fixture}",
            path.read_bytes(), case.served_as, FIRST_SEEN, FIRST_SEEN - timedelta(days=8),
        )  # fmt: skip
        items.extend(parse_feed(job).items)
    return items


def _edition(items: list[Item]) -> Edition:
    """Every item in a list, and each story with pictures or code as a spotlight of its
    own (the spotlight shows the whole body and its lead image). The Drupal article's
    9 KB is left to its own test: with it the email passes Gmail's size guard."""
    sections = [Section("weekly_list", "Weekly List", "", "weekly_list", items=items)]
    sections += [
        Section(f"spotlight_{n}", "Spotlight", "", "spotlight", items=[item])
        for n, item in enumerate(items)
        if ("<pre" in item.body or "<img" in item.body or item.media) and len(item.body) < 3000
    ]
    return Edition(
        "weekly", "Weekly", "Weekly", FIRST_SEEN - timedelta(days=7), FIRST_SEEN, sections
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_the_email_of_every_fixture_fits_a_375_px_phone(browser, settings, tmp_path) -> None:
    html = Renderer(settings).email(_edition(_all_items())).html
    assert "<pre" in html and "groundbreaking.jpg" in html  # the wide cases are in it
    page = browser.new_page(viewport={"width": 375, "height": 800})
    # Pictures are not fetched (no network): give each one the size a wide photo has.
    page.route(
        lambda url: url.startswith("http"),
        lambda route: route.fulfill(status=200, body=_WIDE_GIF, content_type="image/gif"),
    )
    path = tmp_path / "email.html"
    path.write_text(html, encoding="utf-8")
    page.goto(path.as_uri())
    page.wait_for_load_state("load")

    scroll_width, right_edge, widest = page.evaluate(MEASURE)
    page.screenshot(path=str(tmp_path / "email-375.png"), full_page=True)
    page.close()

    assert scroll_width <= 375, (scroll_width, widest)
    assert right_edge <= 375, (right_edge, widest)


# A 1200 x 800 GIF (a header with that size and one transparent pixel's worth of data):
# every picture in the email is as wide as the widest the feeds carried.
_WIDE_GIF = (
    b"GIF89a\xb0\x04\x20\x03\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\xb0\x04\x20\x03\x00\x02\x02D\x01\x00;"
)
