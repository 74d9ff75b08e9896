"""`digest collect --dry-run`: what each source would read, X's cost, and nothing read."""

from __future__ import annotations

import yaml
from tests.conftest import minimal_config
from typer.testing import CliRunner

from digest.cli import app


def _config(tmp_path, x_enabled: bool = False, max_posts: int = 20):
    raw = minimal_config(tmp_path)
    raw["sources"]["news"] = {
        "type": "feed",
        "url": "https://news.example.org/feed.xml",
        "origin": {"name": "Example News"},
    }
    raw["sources"]["states_bsky"] = {
        "type": "bluesky",
        "accounts": [
            {"handle": "ohioaflcio.bsky.social", "origin": {"name": "Ohio AFL-CIO"}},
            {"handle": "texasaflcio.bsky.social", "origin": {"name": "Texas AFL-CIO"}},
        ],
        "list_uri": "https://bsky.app/profile/aflcio.org/lists/3kabc",
    }
    raw["sources"]["affiliates_x"] = {
        "type": "x",
        "enabled": x_enabled,
        "bearer_token": "${X_BEARER_TOKEN_UNSET_IN_TESTS}",  # never resolved: nothing is read
        "max_posts": max_posts,
        "accounts": [
            {"handle": "aflcio", "origin": {"name": "AFL-CIO"}},
            {"handle": "ohioaflcio", "origin": {"name": "Ohio AFL-CIO"}},
        ],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))  # keep source order
    return path


def _dry_run(config, monkeypatch, *extra):
    def no_reading(*args, **kwargs):
        raise AssertionError("collect --dry-run must not read any source")

    monkeypatch.setattr("digest.sources.collect", no_reading)
    result = CliRunner().invoke(app, ["-c", str(config), "collect", "--dry-run", *extra])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_every_source_is_described_and_x_is_priced_while_off(tmp_path, monkeypatch):
    config = _config(tmp_path)
    lines = _dry_run(config, monkeypatch)
    assert lines == [
        f"blog: feed: {tmp_path / 'feed.xml'}",
        "news: feed: https://news.example.org/feed.xml",
        "states_bsky: Bluesky: 2 accounts (ohioaflcio.bsky.social, texasaflcio.bsky.social) "
        "and the members of https://bsky.app/profile/aflcio.org/lists/3kabc, up to 50 posts "
        "each, from https://public.api.bsky.app (free)",
        "affiliates_x: X (off until 'enabled: true'): @aflcio, @ohioaflcio; reads up to 40 "
        "posts (2 accounts × 20), about $0.20 per collect at $0.005 a post",
        "X: about $0.00 per collect as configured (0 of 1 X sources enabled); "
        "$0.20 with all of them enabled",
    ]
    assert not (tmp_path / "digest.db").exists()  # the store is not even opened


def test_an_enabled_x_source_is_priced_as_configured(tmp_path, monkeypatch):
    lines = _dry_run(
        _config(tmp_path, x_enabled=True, max_posts=150), monkeypatch, "-s", "affiliates_x"
    )
    # 150 posts are asked for as pages of 100 and 50
    assert lines == [
        "affiliates_x: X (on): @aflcio, @ohioaflcio; reads up to 300 posts "
        "(2 accounts × 150), about $1.50 per collect at $0.005 a post",
        "X: about $1.50 per collect as configured (1 of 1 X sources enabled); "
        "$1.50 with all of them enabled",
    ]


def test_the_smallest_page_is_what_is_billed(tmp_path, monkeypatch):
    # the timeline endpoint returns at least 5 posts a page, so max_posts 3 can read 5
    lines = _dry_run(_config(tmp_path, max_posts=3), monkeypatch, "-s", "affiliates_x")
    assert "reads up to 10 posts (2 accounts × 3), about $0.05 per collect" in lines[0]


def test_an_unknown_source_is_named(tmp_path, monkeypatch):
    lines = _dry_run(_config(tmp_path), monkeypatch, "-s", "news", "-s", "nope")
    assert lines == [
        "news: feed: https://news.example.org/feed.xml",
        "nope: not in config.yaml; skipped",
    ]
