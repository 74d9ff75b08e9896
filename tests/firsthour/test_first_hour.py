"""The README's first-newsletter path, run as a staffer would, on any date."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from digest.cli import app

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("at", ["2012-02-29T09:30-05:00", "2044-07-04T23:15+02:00"])
def test_init_collect_preview_shows_the_samples_on_any_date(tmp_path: Path, at: str) -> None:
    org = tmp_path / "my-org"
    code, out = cli("init", str(org), "--at", at)
    assert code == 0, out
    config = str(org / "config.yaml")
    code, out = cli("--config", config, "check-config")
    assert code == 0, out
    code, out = cli("--config", config, "collect", "--at", at)
    assert code == 0, out
    assert "source 'our-blog': 1 items read, 1 new" in out
    assert "source 'clips': 2 items read, 2 new" in out
    code, out = cli("--config", config, "preview", "weekly", "--at", at)
    assert code == 0, out
    assert "(3 items)" in out
    html = (org / "out" / "preview" / "weekly.html").read_text(encoding="utf-8")
    assert "Welcome to your digest" in html
    assert "Replace this with a headline worth reading" in html


def test_starter_has_every_section_the_docs_mention(tmp_path: Path) -> None:
    org = tmp_path / "org"
    assert cli("init", str(org), "--at", "2030-01-01T12:00Z")[0] == 0
    starter = yaml.safe_load((org / "config.yaml").read_text(encoding="utf-8"))
    root = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    assert set(root) - set(starter) == set(), "the starter lacks a top-level section"
    assert starter["web"]["staff_password_hash"] == "${DIGEST_STAFF_PASSWORD_HASH}"
    assert "{sample_date" not in (org / "sources" / "blog.xml").read_text(encoding="utf-8")


def test_collect_says_what_it_skipped_and_why(tmp_path: Path) -> None:
    org = tmp_path / "org"
    assert cli("init", str(org), "--at", "2030-01-09T12:00Z")[0] == 0
    config = str(org / "config.yaml")
    clips = org / "sources" / "curated"
    copy = (clips / "first-clip.yaml").read_text(encoding="utf-8")
    (clips / "copy.yaml").write_text(copy.replace("a-story", "a-story?utm_source=x"), "utf-8")
    code, out = cli("--config", config, "collect", "--at", "2030-01-09T12:00Z")
    assert code == 0, out
    assert "source 'clips': 3 items read, 2 new; skipped 1 already stored from another" in out
    code, out = cli("--config", config, "collect", "--at", "2030-03-01T12:00Z")
    assert code == 0, out
    assert "skipped 3 too old for the window (published before 2030-02-21 12:00 UTC" in out
    assert "the collect window is 2030-02-21 to 2030-03-01" in out
    assert "the newest of them is dated 2030-01-" in out


def test_an_empty_preview_and_build_say_why_and_what_to_do(tmp_path: Path) -> None:
    org = tmp_path / "org"
    assert cli("init", str(org), "--at", "2030-01-09T12:00Z")[0] == 0
    config = str(org / "config.yaml")
    code, out = cli("--config", config, "preview", "weekly", "--at", "2030-01-09T12:00Z")
    assert code == 0, out
    assert "No items are stored yet" in out and "digest collect" in out
    assert cli("--config", config, "collect", "--at", "2030-01-09T12:00Z")[0] == 0
    code, out = cli("--config", config, "build", "weekly", "--at", "2030-02-20T12:00Z")
    assert code == 0, out
    assert "nothing new" in out and "none was published in this edition's period" in out
    assert "--at 2030-01-11T16:00-05:00" in out  # the send whose period holds the samples


def test_check_config_lists_schema_and_missing_files_in_one_pass(tmp_path: Path) -> None:
    org = tmp_path / "org"
    assert cli("init", str(org), "--at", "2030-01-09T12:00Z")[0] == 0
    config = org / "config.yaml"
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["sources"]["members"] = {
        "type": "csv",
        "path": "sources/members.csv",
        "origin": {"name": "Members", "kind": "other"},
    }
    raw["sources"]["our-blog"]["colour"] = "red"  # schema error
    raw["newsletters"]["weekly"]["period"] = "a week"  # schema error
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    code, out = cli("--config", str(config), "check-config")
    assert code == 2
    assert "sources.members.path: file not found: sources/members.csv" in out
    assert "colour" in out and "newsletters.weekly.period" in out


def test_the_wrapper_script_runs_digest(tmp_path: Path) -> None:
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("the checkout has no .venv (run make install)")
    result = subprocess.run(
        [str(ROOT / "digest"), "init", str(tmp_path / "org"), "--at", "2030-01-09T12:00Z"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DIGEST_CONFIG": str(tmp_path / "none.yaml")},
    )
    assert result.returncode == 0, result.stderr
    assert "check-config" in result.stdout


def readme_first_commands() -> list[list[str]]:
    """The `./digest …` lines of the README's "Your first newsletter" block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Your first newsletter", 1)[1].split("\n## ", 1)[0]
    commands = []
    for line in section.splitlines():
        line = line.strip()
        if line.startswith("./digest "):
            commands.append(line.split("#", 1)[0].split()[1:])
    return commands


def test_the_readme_first_newsletter_commands_work_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    at = "2037-10-14T08:00-07:00"
    commands = readme_first_commands()
    assert [c[-1] for c in commands[:4]] == ["my-org", "check-config", "collect", "weekly"]
    for args in commands:
        if args[-1] in ("hash-password", "serve"):
            continue  # interactive / long-running: covered by tests/web
        dated = [*args, "--at", at] if args[-1] != "check-config" else args
        code, out = cli(*dated)
        assert code == 0, f"{' '.join(args)}: {out}"
    preview = tmp_path / "my-org" / "out" / "preview" / "weekly.html"
    assert "Welcome to your digest" in preview.read_text(encoding="utf-8")
