"""config.yaml validation: every problem at once, with its path, word for word."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.config import load_config, validate_config
from digest.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def problems_of(raw: dict[str, Any], tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, base_dir=tmp_path)
    return caught.value.problems


def test_minimal_config_is_valid(raw_config: dict[str, Any], tmp_path: Path) -> None:
    settings = validate_config(raw_config, base_dir=tmp_path)
    assert settings.newsletters["weekly"].formats == ("weekly_list",)
    assert settings.audience_of("weekly") == "weekly"


def test_the_demo_config_is_valid() -> None:
    settings = load_config(REPO / "config.yaml")
    assert {"weekly", "spotlight", "political"} <= set(settings.newsletters)
    assert len(settings.formats) == 7


def test_misspelled_format_gets_a_suggestion(raw_config: dict[str, Any], tmp_path: Path) -> None:
    raw_config["formats"]["worker_wins"] = {
        "strategy": "list",
        "title": "Worker Wins",
        "template": "worker_wins",
    }
    raw_config["newsletters"]["weekly"]["formats"] = ["weekly_list", "worker_wins", "wrker_wins"]
    assert problems_of(raw_config, tmp_path) == [
        "newsletters.weekly.formats[2]: unknown format 'wrker_wins' (did you mean 'worker_wins'?)"
    ]


def test_every_problem_is_reported_at_once(raw_config: dict[str, Any], tmp_path: Path) -> None:
    raw_config["newsletters"]["weekly"]["formats"] = ["weekly_lst"]
    raw_config["newsletters"]["weekly"]["timezon"] = "UTC"
    raw_config["newsletters"]["weekly"]["schedule"] = "someday"
    raw_config["sources"]["blog"]["type"] = "fed"
    raw_config["channels"]["email"]["password"] = "hunter2"
    assert problems_of(raw_config, tmp_path) == [
        "channels.email.password: secrets must not be written in config.yaml; "
        "use an environment variable reference like ${PASSWORD}",
        "sources.blog.type: unknown type 'fed' (did you mean 'feed'?) "
        "(expected one of 'feed', 'curated', 'csv', 'bluesky', 'x')",
        "newsletters.weekly.schedule: schedule 'someday' is not understood; write e.g. "
        "'fri 16:00', 'daily 07:00' or a cron line like '0 16 * * fri'",
        "newsletters.weekly.timezon: unknown key 'timezon' (did you mean 'timezone'?)",
        "channels.email.password: unknown key 'password'",
        "newsletters.weekly.formats[0]: unknown format 'weekly_lst' (did you mean 'weekly_list'?)",
    ]


def test_missing_required_keys(raw_config: dict[str, Any], tmp_path: Path) -> None:
    del raw_config["organization"]["postal_address"]
    del raw_config["formats"]["weekly_list"]["template"]
    assert problems_of(raw_config, tmp_path) == [
        "organization.postal_address: required key is missing",
        "formats.weekly_list.template: required key is missing",
    ]


def test_secret_references_resolve_from_the_environment(
    raw_config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw_config["channels"]["smtp"] = {
        "type": "smtp",
        "host": "smtp.example.org",
        "password": "${SMTP_PASSWORD}",
    }
    settings = validate_config(raw_config, base_dir=tmp_path)
    channel = settings.channels["smtp"]
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    assert channel.password is not None  # type: ignore[union-attr]
    assert channel.password.resolve() == "s3cret"  # type: ignore[union-attr]
    assert "s3cret" not in repr(settings)
    monkeypatch.delenv("SMTP_PASSWORD")
    with pytest.raises(ConfigError, match="environment variable SMTP_PASSWORD is not set"):
        channel.password.resolve()  # type: ignore[union-attr]


def test_strategy_options_and_files_are_checked(raw_config: dict[str, Any], tmp_path: Path) -> None:
    raw_config["formats"]["states"] = {
        "strategy": "grouped",
        "title": "In the States",
        "template": "in_the_states",
    }
    raw_config["formats"]["profile"] = {
        "strategy": "rotation",
        "title": "Get to Know",
        "template": "affiliate_profile",
        "data": "missing.yaml",
    }
    raw_config["sources"]["blog"]["path"] = "nowhere.xml"
    assert problems_of(raw_config, tmp_path) == [
        "formats.states.group_by: required for strategy 'grouped' (origin or state)",
        "formats.profile.data: file not found: missing.yaml",
        "sources.blog.path: file not found: nowhere.xml",
    ]


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("organization:\n  name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems[0].startswith(f"{path}: not valid YAML at line 3, column 1")


def test_check_config_command_lists_problems_and_exits_2(
    raw_config: dict[str, Any], tmp_path: Path
) -> None:
    import yaml

    raw_config["newsletters"]["weekly"]["formats"] = ["weekly_lst"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw_config), encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(path), "check-config"])
    assert result.exit_code == 2
    assert "1 problem" in result.output
    assert "newsletters.weekly.formats[0]: unknown format 'weekly_lst'" in result.output
    assert "Traceback" not in result.output


def test_check_config_command_accepts_the_demo() -> None:
    result = CliRunner().invoke(app, ["--config", str(REPO / "config.yaml"), "check-config"])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_a_send_time_inside_the_spring_forward_gap_is_warned(
    raw_config: dict[str, Any], tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from digest.config import config_warnings

    raw_config["newsletters"]["weekly"]["schedule"] = "sun 02:30"
    settings = validate_config(raw_config, base_dir=tmp_path)
    assert config_warnings(settings, datetime(2026, 11, 22, tzinfo=UTC)) == [
        "newsletters.weekly.schedule: 02:30 does not exist on 2027-03-14 in America/New_York "
        "(the clocks spring forward), so that run would be skipped; choose a time outside "
        "the changeover hour"
    ]
    for fine in ("fri 16:00", "fri 02:30"):  # the changeover is on a Sunday
        raw_config["newsletters"]["weekly"]["schedule"] = fine
        settings = validate_config(raw_config, base_dir=tmp_path)
        assert config_warnings(settings, datetime(2026, 11, 22, tzinfo=UTC)) == []


def test_smtp_credentials_without_tls_are_refused_unless_on_loopback(
    raw_config: dict[str, Any], tmp_path: Path
) -> None:
    smtp = {
        "type": "smtp",
        "host": "smtp.example.org",
        "security": "none",
        "username": "${SMTP_USERNAME}",
        "password": "${SMTP_PASSWORD}",
    }
    raw_config["channels"]["relay"] = smtp
    assert problems_of(raw_config, tmp_path) == [
        "channels.relay.security: 'none' would send the SMTP password unencrypted to "
        "smtp.example.org; use starttls or tls"
    ]
    raw_config["channels"]["relay"] = {**smtp, "host": "127.0.0.1"}
    assert validate_config(raw_config, base_dir=tmp_path).channels["relay"]
