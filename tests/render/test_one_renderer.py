"""One Renderer per run: `digest demo` compiles each template once, not once per call site."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2
import pytest
from typer.testing import CliRunner

from digest.cli import app

REPO = Path(__file__).resolve().parents[2]


def test_demo_compiles_each_template_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    compiled: Counter[str] = Counter()
    original = jinja2.Environment.compile

    def counting(
        self: jinja2.Environment, source: Any, name: str | None = None, *a: Any, **k: Any
    ) -> Any:
        compiled[str(name)] += 1
        return original(self, source, name, *a, **k)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "config.yaml"), "demo"])
    assert result.exit_code == 0, result.output
    assert "email/base.mjml.j2" in compiled and any(n.startswith("social/") for n in compiled)
    assert {name: n for name, n in compiled.items() if n > 1} == {}
