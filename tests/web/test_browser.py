"""End to end in headless Chromium (Debian's ``chromium``, driven by Playwright).

subscribe → confirm link from the Maildir outbox → preferences → unsubscribe, and a
staff sign-in → preview → approve; every page checked for labels, lang, contrast, visible
focus and keyboard use. Screenshots at 375 px and 1280 px go to test-artifacts/web/.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from digest.config import Settings
from digest.delivery.tokens import subscriber_token
from digest.store import Store
from digest.store.tables import EditionRow, SubscriberRow, SubscriptionRow
from digest.web import create_app

from .conftest import STAFF_EMAIL, STAFF_PASSWORD, add_edition, confirm_path_from, outbox_messages

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = (375, 1280)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (/usr/bin/chromium); "
        "install it with: apt-get install -y chromium",
    ),
]

# Page checks run in the browser (labels, lang, WCAG contrast): see a11y_audit.js.
A11Y_AUDIT = (Path(__file__).parent / "a11y_audit.js").read_text(encoding="utf-8")

FOCUS_VISIBLE = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return 'nothing focused';
  const s = getComputedStyle(el);
  const visible = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  return visible ? '' : 'no visible focus on ' + el.tagName;
}
"""


@pytest.fixture
def server(web_settings: Settings, store: Store) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1 with an ephemeral port, in a thread."""
    app = create_app(web_settings, store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _check_page(page: Any, artifacts: Path, name: str) -> None:
    """Accessibility audit at both widths, and a screenshot at each."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        problems = page.evaluate(A11Y_AUDIT)
        assert problems == [], f"{name} at {width}px: {problems}"
        page.screenshot(path=str(artifacts / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 900})


def _tab_to(page: Any, selector: str, limit: int = 30) -> None:
    """Move focus with the Tab key only, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            assert page.evaluate(FOCUS_VISIBLE) == ""
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_subscribe_confirm_preferences_unsubscribe(
    server: str,
    browser: Any,
    web_settings: Settings,
    store: Store,
    artifacts_dir: Path,
) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 900})
    page.goto(f"{server}/subscribe")
    _check_page(page, artifacts_dir, "subscribe")

    # keyboard only: type the address, tick a newsletter with Space, submit with Enter
    _tab_to(page, "#email")
    page.keyboard.type("reader@example.org")
    _tab_to(page, "#list-weekly")
    page.keyboard.press("Space")
    assert page.is_checked("#list-weekly")
    _tab_to(page, "button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Check your inbox"
    _check_page(page, artifacts_dir, "subscribe-sent")

    [message] = outbox_messages(web_settings)
    page.goto(server + confirm_path_from(message))
    _check_page(page, artifacts_dir, "confirm")
    _tab_to(page, "button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "You are subscribed"

    with page.expect_navigation():
        page.get_by_role("link", name="Choose newsletters or pause them").click()
    assert page.locator("h1").inner_text() == "Your subscriptions"
    assert page.is_checked("#list-weekly") and not page.is_checked("#list-states")
    _check_page(page, artifacts_dir, "preferences")
    page.check("#list-states")
    page.select_option("#pause", "2w")
    with page.expect_navigation(url="**/p/*?saved=yes"):
        page.get_by_role("button", name="Save my choices").click()
    assert page.get_by_role("status").inner_text() == "Your choices are saved."
    assert page.is_checked("#list-states")

    # the unsubscribe link every edition carries: GET shows a button, the button unsubscribes
    with store.session() as session:
        subscriber_id = session.scalars(select(SubscriberRow.id)).one()
    token = subscriber_token(web_settings.signing_secret(), "unsubscribe", subscriber_id, "weekly")
    page.goto(f"{server}/u/{token}")
    _check_page(page, artifacts_dir, "unsubscribe")
    assert _subscription_status(store, subscriber_id, "weekly") == "confirmed"
    with page.expect_navigation():
        page.get_by_role("button", name="Unsubscribe").click()
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    _check_page(page, artifacts_dir, "unsubscribed")
    assert _subscription_status(store, subscriber_id, "weekly") == "unsubscribed"
    assert _subscription_status(store, subscriber_id, "states") == "confirmed"
    assert page.context.cookies() == []  # the public pages set no cookies


def test_the_audit_finds_real_problems(browser: Any) -> None:
    """The page checks above can fail: a page with each fault is caught."""
    page = browser.new_page()
    page.set_content(
        "<html><body><p style='color:#aaa;background:#fff'>faint</p>"
        "<input name='unlabelled'><label for='x'>ok</label><input id='x'></body></html>"
    )
    problems = page.evaluate(A11Y_AUDIT)
    assert "html has no lang" in problems
    assert "no label: unlabelled" in problems
    assert any(p.startswith("contrast 2.") for p in problems)
    assert len(problems) == 3


def _subscription_status(store: Store, subscriber_id: int, list_name: str) -> str:
    with store.session() as session:
        sub = session.get(SubscriptionRow, (subscriber_id, list_name))
        assert sub is not None
        return sub.status


def test_staff_login_preview_approve(
    server: str, browser: Any, store: Store, now: datetime, artifacts_dir: Path
) -> None:
    edition_id = add_edition(store, period_end=now, subject="Weekly: for review")
    page = browser.new_page(viewport={"width": 375, "height": 900})
    page.goto(f"{server}/desk/")
    assert page.url.endswith("/desk/login")
    _check_page(page, artifacts_dir, "desk-login")
    page.get_by_label("Your email address").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{server}/desk/")
    assert page.locator("h1").inner_text() == "Dashboard"
    _check_page(page, artifacts_dir, "desk-dashboard")

    with page.expect_navigation():
        page.get_by_role("link", name="Weekly: for review").click()
    assert page.locator("h1").inner_text() == "Weekly: for review"
    for title in ("Email preview at phone width", "Email preview at desktop width"):
        frame = page.frame_locator(f"iframe[title='{title}']")
        assert "Hello Reader" in frame.locator("body").inner_text()
    _check_page(page, artifacts_dir, "desk-preview")

    _tab_to(page, "form[action$='/approve'] button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/desk/?notice=approved")
    assert page.get_by_role("status").inner_text() == "The edition is approved."
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        assert row is not None and row.status == "approved" and row.approved_by == STAFF_EMAIL

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{server}/desk/login")
    page.goto(f"{server}/desk/")
    assert page.url.endswith("/desk/login")
