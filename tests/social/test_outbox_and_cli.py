"""The social outbox (embedded default) and `digest post --dry-run`."""

from __future__ import annotations

import json

import yaml
from tests.conftest import minimal_config
from tests.social.conftest import make_edition
from typer.testing import CliRunner

from digest.cli import app
from digest.models import RunReport
from digest.social import post_edition
from digest.social.limits import grapheme_count, x_weight


def test_outbox_writes_the_exact_posts_per_platform_and_says_where(social_settings, store):
    settings = social_settings(
        {
            "bsky_out": {"type": "outbox", "platform": "bluesky"},
            "x_out": {"type": "outbox", "platform": "x"},
        }
    )
    report = RunReport()
    posts = post_edition(settings, store, make_edition(3), report)
    out = settings.resolve_path(settings.channels["bsky_out"].path)
    bsky_file = out / "weekly" / "2026-11-20-1600-bluesky.json"
    x_file = out / "weekly" / "2026-11-20-1600-x.json"
    assert report.outputs == {
        "Bluesky outbox (bsky_out)": str(bsky_file),
        "X outbox (x_out)": str(x_file),
    }
    written = json.loads(bsky_file.read_text()) + json.loads(x_file.read_text())
    assert [(p["platform"], p["part"], p["text"]) for p in written] == [
        (p.platform, p.part, p.text) for p in posts
    ]
    assert report.posts == len(posts)
    for entry in written:
        assert {"platform", "part", "text", "facets", "embed"} <= set(entry)
        if entry["platform"] == "bluesky":
            assert grapheme_count(entry["text"]) <= 300
        else:
            assert x_weight(entry["text"]) <= 280


def test_dry_run_writes_nothing(social_settings, store):
    settings = social_settings({"bsky_out": {"type": "outbox", "platform": "bluesky"}})
    report = RunReport()
    posts = post_edition(settings, store, make_edition(2), report, dry_run=True)
    assert posts and report.outputs == {} and report.posts == 0
    assert not settings.resolve_path(settings.channels["bsky_out"].path).exists()


def test_cli_dry_run_json_lists_every_part(tmp_path, store):
    from tests.social.fakes import stored_edition

    from digest.store import open_store

    raw = minimal_config(tmp_path)
    raw["channels"]["bsky_out"] = {"type": "outbox", "platform": "bluesky"}
    raw["newsletters"]["weekly"]["channels"] = ["email", "bsky_out"]
    raw["newsletters"]["weekly"]["social"] = {"shape": "thread", "max_posts": 2}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    db = open_store(raw["store"]["url"])
    edition_id = stored_edition(db)
    with db.session() as session:
        from digest.store.tables import EditionRow

        row = session.get(EditionRow, edition_id)
        row.sections = [s.to_dict() for s in make_edition(2).sections]
    runner = CliRunner()
    result = runner.invoke(app, ["-c", str(config), "post", "weekly", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["part"] for d in data] == [1, 2]
    # the cap leaves the In the States post out, and says so
    assert "left out (over the post limits): the In the States post" in result.stderr
    assert data[0]["embed"]["uri"].endswith("/archive/weekly/2026-11-20/")
    assert not (tmp_path / "out" / "social").exists()

    text = runner.invoke(app, ["-c", str(config), "post", "weekly", "--dry-run"])
    assert text.exit_code == 0
    assert "part 1" in text.stdout and "graphemes" in text.stdout

    real = runner.invoke(app, ["-c", str(config), "post", "weekly"])
    assert real.exit_code == 0
    assert (tmp_path / "out" / "social" / "weekly" / "2026-11-20-1600-bluesky.json").exists()


def test_cli_names_a_missing_edition(tmp_path):
    raw = minimal_config(tmp_path)
    raw["channels"]["bsky_out"] = {"type": "outbox", "platform": "bluesky"}
    raw["newsletters"]["weekly"]["channels"] = ["email", "bsky_out"]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["-c", str(config), "post", "weekly", "--dry-run"])
    assert result.exit_code == 1
    assert "digest build weekly" in result.output


def test_cli_post_exits_non_zero_when_a_channel_fails_and_names_platforms_plainly(
    tmp_path, monkeypatch
):
    from tests.social.fakes import stored_edition

    from digest.store import open_store

    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    raw = minimal_config(tmp_path)
    raw["channels"]["x"] = {"type": "outbox", "platform": "x"}
    raw["channels"]["bsky"] = {
        "type": "bluesky",
        "handle": "fed.example.test",
        "app_password": "${NO_SUCH_PASSWORD}",
    }
    raw["newsletters"]["weekly"]["channels"] = ["email", "x", "bsky"]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    db = open_store(raw["store"]["url"])
    stored_edition(db)
    result = CliRunner().invoke(app, ["-c", str(config), "post", "weekly"])
    assert result.exit_code == 1, result.output
    assert "X outbox (x):" in result.stdout  # plain words: no ':x:' for rich to emoji
    assert "❌" not in result.stdout
    assert "did not fully post" in result.stderr


def test_cli_dry_run_prices_the_x_posts_and_the_other_shapes(tmp_path):
    from tests.social.fakes import stored_edition

    from digest.store import open_store

    raw = minimal_config(tmp_path)
    raw["channels"]["x_out"] = {"type": "outbox", "platform": "x"}
    raw["newsletters"]["weekly"]["channels"] = ["email", "x_out"]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    db = open_store(raw["store"]["url"])
    edition_id = stored_edition(db)
    with db.session() as session:
        from digest.store.tables import EditionRow

        row = session.get(EditionRow, edition_id)
        row.sections = [s.to_dict() for s in make_edition(2).sections]
    result = CliRunner().invoke(app, ["-c", str(config), "post", "weekly", "--dry-run"])
    assert result.exit_code == 0, result.output
    # one post with the edition's URL: X's price of a post with a URL
    assert "Estimated X cost: $0.20 for 1 posts ($0.015 a post, $0.2 with a URL)" in result.stdout
    # a thread adds replies without links ($0.015 each); per item, every story has a URL
    assert "as thread: $0.23 for 3 posts" in result.stdout
    assert "as per_item: $0.80 for 4 posts" in result.stdout
