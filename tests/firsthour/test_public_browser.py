"""The public pages in headless Chromium at 375 and 1280 px: no sideways scrolling,
the page checks of tests/web (labels, lang, contrast), the affiliate profile's fields
stacked on a phone; screenshots go to test-artifacts/public/ (ignored by git)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from digest.config import Settings
from digest.delivery.tokens import subscriber_token
from digest.store import Store
from digest.store.tables import SubscriptionRow
from digest.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
WIDTHS = (375, 1280)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "public"
A11Y_AUDIT = (Path(__file__).parents[1] / "web" / "a11y_audit.js").read_text(encoding="utf-8")
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (/usr/bin/chromium); "
        "install it with: apt-get install -y chromium",
    ),
]


@pytest.fixture(scope="module")
def server(demo: tuple[Settings, Store]) -> Iterator[str]:
    settings, store = demo
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(create_app(settings, store), log_level="warning"))
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def _unsubscribe_path(demo: tuple[Settings, Store]) -> str:
    settings, store = demo
    with store.session() as session:
        row = session.scalars(
            select(SubscriptionRow).where(SubscriptionRow.list_name == "weekly")
        ).first()
        assert row is not None
    token = subscriber_token(settings.signing_keys(), "unsubscribe", row.subscriber_id, "weekly")
    return f"/u/{token}"


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("home", "/"),
        ("archive", "/archive/weekly/"),
        ("edition-weekly", "/archive/weekly/2026-11-20/"),
        ("edition-political", "/archive/political/2026-11-16/"),
        ("subscribe", "/subscribe"),
    ],
)
def test_public_page_fits_a_phone_and_a_desktop(
    server: str, browser: Any, name: str, path: str
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        response = page.goto(server + path)
        assert response is not None and response.status == 200, path
        assert page.evaluate(SIDEWAYS) <= 0, f"{name} scrolls sideways at {width}px"
        assert page.evaluate(A11Y_AUDIT) == [], f"{name} at {width}px"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}-top.png"))  # what shows first
    page.close()


def test_affiliate_profile_stacks_label_over_value_on_a_phone(server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 900})
    page.goto(server + "/archive/weekly/2026-11-20/")
    label = page.locator(".fields dt").first.bounding_box()
    value = page.locator(".fields dd").first.bounding_box()
    assert label is not None and value is not None
    assert value["y"] >= label["y"] + label["height"] - 1  # below, not beside
    assert value["width"] >= 300  # the text gets the phone's width (was about 110 px)
    page.set_viewport_size({"width": 1280, "height": 900})
    label = page.locator(".fields dt").first.bounding_box()
    value = page.locator(".fields dd").first.bounding_box()
    assert label is not None and value is not None
    assert abs(value["y"] - label["y"]) < 4  # side by side where there is room
    page.close()


def test_unsubscribed_page_offers_a_way_back(
    server: str, browser: Any, demo: tuple[Settings, Store]
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 375, "height": 900})
    page.goto(server + _unsubscribe_path(demo))
    with page.expect_navigation():
        page.get_by_role("button", name="Unsubscribe").click()
    assert page.evaluate(SIDEWAYS) <= 0
    page.screenshot(path=str(ARTIFACTS / "unsubscribed-375.png"), full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Unsubscribed by mistake? Resubscribe").click()
    assert page.get_by_role("status").inner_text() == "Your choices are saved."
    assert page.is_checked("#list-weekly")
    page.close()
