"""A demo deployment, built once per module: real editions for the public page tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.config import Settings, load_config
from digest.store import Store, open_store

REPO = Path(__file__).resolve().parents[2]
DEMO_AT = "2026-11-20T16:00-05:00"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Store]]:
    """`digest demo` on a copy of the root config: every newsletter built and published."""
    folder = tmp_path_factory.mktemp("demo")
    shutil.copytree(REPO / "examples", folder / "examples")
    shutil.copy(REPO / "config.yaml", folder / "config.yaml")
    result = CliRunner().invoke(
        app, ["--config", str(folder / "config.yaml"), "demo", "--at", DEMO_AT]
    )
    assert result.exit_code == 0, result.output
    settings = load_config(folder / "config.yaml")
    store = open_store(settings.store.url)
    yield settings, store
    store.dispose()
