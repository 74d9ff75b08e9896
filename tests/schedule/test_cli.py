"""`digest runs` and `digest approve` through the real CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from typer.testing import CliRunner

from digest.cli import app
from digest.config import load_config
from digest.schedule import ledger, run_period
from digest.schedule.daemon import Daemon
from digest.store import open_store

SEND = datetime(2026, 11, 20, 16, 0, tzinfo=ZoneInfo("America/New_York"))


def write_config(raw: dict[str, Any], tmp_path: Path, **weekly: Any) -> Path:
    raw = {**raw, "newsletters": {"weekly": {**raw["newsletters"]["weekly"], **weekly}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_runs_lists_past_and_upcoming(
    raw_config: dict[str, Any], tmp_path: Path, pipeline: Any
) -> None:
    config = write_config(raw_config, tmp_path)
    settings = load_config(config)
    store = open_store(settings.store.url)
    run_period(
        settings,
        store,
        "weekly",
        SEND,
        now=SEND,
        runner=pipeline,
        clock=lambda: SEND + timedelta(seconds=42),
    )
    Daemon(
        settings, store, runner=pipeline, clock=lambda: SEND + timedelta(weeks=1, hours=30)
    ).catch_up()
    pipeline.fail_with = RuntimeError("template error in weekly_list.mjml.j2 line 3")
    run_period(
        settings,
        store,
        "weekly",
        SEND + timedelta(weeks=2),
        now=SEND + timedelta(weeks=2),
        runner=pipeline,
    )
    store.dispose()
    result = CliRunner().invoke(app, ["--config", str(config), "runs"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Upcoming runs" in out and "Past runs" in out
    assert "Fri 16:00" in out
    lines = {
        line.split("│")[1].strip(): line
        for line in out.splitlines()
        if "│ weekly" in line and line.split("│")[1].strip()
    }
    assert "succeeded" in lines["1"] and "42.0s" in lines["1"] and " 5 " in lines["1"]
    assert "skipped" in lines["2"] and "late is beyond" in lines["2"]
    assert "failed" in lines["3"] and "template error" in lines["3"]


def test_runs_rejects_unknown_newsletter(raw_config: dict[str, Any], tmp_path: Path) -> None:
    config = write_config(raw_config, tmp_path)
    result = CliRunner().invoke(app, ["--config", str(config), "runs", "weeky"])
    assert result.exit_code == 1
    assert "unknown newsletter 'weeky'" in result.output


def test_approve_and_hold_from_the_cli(
    raw_config: dict[str, Any], tmp_path: Path, pipeline: Any, monkeypatch: Any
) -> None:
    # `digest approve` (no --at) acts on the edition whose send is still ahead of now
    future_send = datetime.now(UTC) + timedelta(days=30)  # wall clock: the CLI reads it too
    config = write_config(raw_config, tmp_path, approval={"reviewers": ["e@example.org"]})
    settings = load_config(config)
    store = open_store(settings.store.url)
    prepared = run_period(
        settings,
        store,
        "weekly",
        future_send,
        now=future_send - timedelta(hours=1),
        runner=pipeline,
    )
    assert prepared.outcome == "awaiting_approval" and prepared.record is not None
    edition_id = prepared.record.edition_id
    runner = CliRunner()
    held = runner.invoke(app, ["--config", str(config), "approve", "weekly", "--hold"])
    assert held.exit_code == 0, held.output
    assert f"Edition #{edition_id} of weekly" in held.output and "held" in held.output
    ok = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "approve",
            "weekly",
            "--edition",
            str(edition_id),
            "--by",
            "chief",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "approved" in ok.output and "It goes out at" in ok.output
    record = ledger.get(store, "weekly", prepared.period_key)
    assert record is not None and record.status == "awaiting_approval"  # not sent early
    assert pipeline.sent() == []
    none_left = runner.invoke(app, ["--config", str(config), "approve", "weekly"])
    assert none_left.exit_code == 1 and "no edition waiting" in none_left.output
    store.dispose()


def test_real_pipeline_with_no_source_reachable_fails_and_tells_staff(
    make_settings: Callable[..., Any],
    raw_config: dict[str, Any],
    store: Any,
    outbox: Callable[[Any], list[Any]],
) -> None:
    """run_period's default runner is digest.pipeline.run_newsletter (the same path)."""
    settings = make_settings(
        organization={**raw_config["organization"], "staff_email": "staff@example.org"},
        sources={
            "blog": {
                "type": "feed",
                "url": "http://127.0.0.1:9/feed.xml",
                "origin": {"name": "Blog"},
            }
        },
    )
    result = run_period(settings, store, "weekly", SEND, now=SEND)
    assert result.outcome == "failed"
    assert result.record is not None and "no sources reachable" in (result.record.error or "")
    [notice] = outbox(settings)
    assert "Run failed" in notice["Subject"]
    assert "No edition was built, so nothing was sent." in notice.get_payload()
