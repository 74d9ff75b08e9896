"""The package works installed from a wheel, not only from the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        pytest.skip(
            f"could not build a wheel here (needs hatchling from PyPI): {result.stderr[-500:]}"
        )
    return next(out.glob("digest-*.whl"))


def test_wheel_ships_templates_starter_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "digest/templates/email/sections/weekly_list.mjml.j2" in names
    assert "digest/starter/config.yaml" in names
    assert any(n.startswith("digest/store/migrations/versions/0001") for n in names)


def test_installed_wheel_runs_init_and_renders(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    org = tmp_path / "org"

    def digest(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "digest.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import digest; print(digest.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(target)), "the test must use the wheel's copy"
    at = ("--at", "2026-11-20T16:00-05:00")
    assert digest("init", str(org), *at).returncode == 0  # the samples are dated from --at
    assert (org / "templates" / "email").is_dir()
    config = str(org / "config.yaml")
    checked = digest("--config", config, "check-config")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    collected = digest("--config", config, "collect", *at)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    preview = digest("--config", config, "preview", "weekly", *at)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    html = (org / "out" / "preview" / "weekly.html").read_text(encoding="utf-8")
    assert "Welcome to your digest" in html
