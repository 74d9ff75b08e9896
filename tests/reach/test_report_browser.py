"""The reach pages in headless Chromium: readable at 375 px, accessible, reached from the desk."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from digest.web import create_app

from .conftest import STAFF_PASSWORD, Sent

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reach"
A11Y_AUDIT = (Path(__file__).parents[1] / "web" / "a11y_audit.js").read_text(encoding="utf-8")
NO_SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (/usr/bin/chromium); "
        "install it with: apt-get install -y chromium",
    ),
]


@pytest.fixture
def served(week_with_readers: Sent) -> Iterator[str]:
    app = create_app(week_with_readers.settings, week_with_readers.store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


def _check(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate(A11Y_AUDIT) == [], f"{name} at {width}px"
        assert page.evaluate(NO_SIDEWAYS) <= 0, f"{name} scrolls sideways at {width}px"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)


def test_staff_reach_the_reports_from_the_dashboard(
    served: str, browser: Any, week_with_readers: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 900})
    page.goto(f"{served}/desk/login")
    page.get_by_label("Your email address").fill("ed@example.org")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{served}/desk/")
    with page.expect_navigation():
        page.get_by_role("link", name="Reach").first.click()
    assert "what each edition did" in page.locator("h1").inner_text()
    assert page.locator("svg[role=img]").count() == 3
    _check(page, "reach-trend")
    with page.expect_navigation():
        page.locator("table.report a").first.click()
    assert page.locator("h1").inner_text() == week_with_readers.messages[0]["Subject"]
    assert "2 clicks by people" in page.locator("main").inner_text()
    _check(page, "reach-edition")
