"""The whole pipeline on the embedded defaults, as `make demo` runs it."""

from __future__ import annotations

import email
import json
import re
import shutil
from email.message import Message
from email.policy import default as default_policy
from html import unescape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.config import load_config
from digest.reach.links import REDIRECT_PATH, read_click_token

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """A copy of the demo config and examples, writing under the temp folder."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    return tmp_path


def run_demo(demo_dir: Path) -> str:
    result = CliRunner().invoke(app, ["--config", str(demo_dir / "config.yaml"), "demo"])
    assert result.exit_code == 0, result.output
    return result.output


def link_targets(demo_dir: Path, html: str) -> set[str]:
    """Where each link of the email leads, through the click redirect where it goes."""
    settings = load_config(demo_dir / "config.yaml")
    redirect = settings.organization.site_url + REDIRECT_PATH
    found = set()
    for href in re.findall(r'href="([^"]+)"', html):
        href = unescape(href)
        if href.startswith(redirect):
            click = read_click_token(settings.signing_keys(), href.removeprefix(redirect))
            assert click is not None, href
            href = click.url
        found.add(href)
    return found


def messages(outbox: Path) -> list[Message]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=default_policy)
        for p in sorted((outbox / "new").iterdir())
    ]


def test_demo_builds_mails_archives_and_posts(demo_dir: Path) -> None:
    output = run_demo(demo_dir)
    out = demo_dir / "out"
    mails = messages(out / "outbox")
    weekly = [m for m in mails if "Weekly Roundup" in str(m["Subject"])]
    assert weekly, "the weekly edition was mailed"
    first = weekly[0]
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://digest.example.org/u/" in str(first["List-Unsubscribe"])
    assert first.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in first.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    html = first.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for heading in (
        "Working People Weekly List",
        "In the States",
        "Worker Wins",
        "What Working People Are Doing This Week",
        "Get to Know Our Affiliates",
    ):
        assert heading in html
    assert "<script" not in html.lower()
    assert "%%DIGEST_" not in html
    # Bluesky posts (recorded AppView answers, no network) as cards with their links,
    # which go through the click redirect (reach.clicks: aggregate) to their targets
    assert html.count("View on Bluesky") >= 3
    targets = link_targets(demo_dir, html)
    for href in (
        "https://bsky.app/hashtag/PaidSickDays",  # a hashtag facet
        "https://bsky.app/profile/did:plc:demofresh",  # a mention facet
        "https://ohiolabor.example.org/2026/11/paid-sick-days-hearing",  # link behind short text
        "https://bsky.app/profile/freshway-workers.example.org/post/3ldemoq",  # the quoted post
    ):
        assert href in targets, href
    # one message per subscriber of the list, each with its own unsubscribe link
    links = {str(m["List-Unsubscribe"]) for m in weekly}
    assert len(links) == len(weekly)
    # archive pages and the social outbox
    assert (out / "site" / "index.html").exists()
    assert list((out / "site" / "archive" / "weekly").glob("*/index.html"))
    posts = [json.loads(p.read_text()) for p in (out / "social").rglob("*.json")]
    assert posts, "social posts were written to the outbox"
    assert "warning" in output  # the sample CSV's bad row is reported, not fatal


def test_demo_twice_sends_nobody_twice(demo_dir: Path) -> None:
    run_demo(demo_dir)
    first = len(list((demo_dir / "out" / "outbox" / "new").iterdir()))
    run_demo(demo_dir)
    assert len(list((demo_dir / "out" / "outbox" / "new").iterdir())) == first
