"""The desk at 375 px: every page fits the screen (no sideways scrolling), in Chromium."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from digest.config import Settings
from digest.schedule.approval import make_link
from digest.store import Store
from digest.store.tables import RunRow, SocialPostRow

from .conftest import STAFF_EMAIL, STAFF_PASSWORD, add_edition
from .test_browser import A11Y_AUDIT, browser, pytestmark, server  # noqa: F401

PAGE_WIDTH = "() => document.documentElement.scrollWidth"


def _busy_store(store: Store, now: datetime) -> int:
    """An edition with a long subject, runs with long errors, and a posted social post."""
    edition_id = add_edition(
        store,
        period_end=now,
        subject="Workers Deserve A Secure Retirement: What Working People Are Doing This Week",
    )
    with store.session() as session:
        for n in range(3):
            session.add(
                RunRow(
                    newsletter="weekly",
                    period_key=f"2026-11-{13 + n}T16:00",
                    scheduled_for=now - timedelta(days=7 * n),
                    status="failed",
                    started_at=now,
                    finished_at=now,
                    error="source https://example.org/a/very/long/feed/address/that/does/not/"
                    "break/anywhere.xml failed: " + "x" * 120,
                )
            )
        session.add(
            SocialPostRow(
                edition_id=edition_id,
                platform="bluesky",
                part=1,
                text="A long post " * 20,
                status="posted",
                url="https://bsky.app/profile/example/post/" + "a" * 80,
                posted_at=now,
            )
        )
    return edition_id


def _fits(page: Any, name: str, artifacts: Path) -> None:
    page.screenshot(path=str(artifacts / f"phone-{name}-375.png"), full_page=True)
    width = page.evaluate(PAGE_WIDTH)
    assert width <= 375, f"{name} is {width} px wide at a 375 px screen"
    assert page.evaluate(A11Y_AUDIT) == [], name


def test_every_desk_page_fits_a_phone(
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    web_settings: Settings,
    store: Store,
    now: datetime,
    artifacts_dir: Path,
) -> None:
    edition_id = _busy_store(store, now)
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.goto(f"{server}/desk/login")
    _fits(page, "desk-login", artifacts_dir)
    page.get_by_label("Your email address").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{server}/desk/")
    _fits(page, "desk-dashboard", artifacts_dir)
    page.goto(f"{server}/desk/editions/{edition_id}")
    _fits(page, "desk-preview", artifacts_dir)
    # both renderings are shown whole, the desktop one scaled down
    for title in ("Email preview at phone width", "Email preview at desktop width"):
        box = page.locator(f"iframe[title='{title}']").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, title

    link = make_link(web_settings, edition_id, "weekly", "approve", "chief@example.org")
    page.goto(server + re.sub(r"^https?://[^/]+", "", link))
    _fits(page, "staff-approve", artifacts_dir)
