"""The modules depend on each other one way (docs/architecture.md, "Layers").

Every import counts, the ones inside functions too: a lower layer never reaches up, so
no import cycle can hide behind a function-local import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "digest"
# unit -> the units it must not import (a unit is a top-level module or package)
UPPER = {"cli", "web", "schedule", "pipeline", "notify", "subscriptions", "bounces"}
DELIVERY_AND_UP = UPPER | {"delivery", "editions", "site", "social"}
FORBIDDEN = {
    "errors": set(),  # imports no other unit at all (see test_the_base_imports_nothing)
    "models": set(),
    "timing": set(),
    "config_errors": set(),
    "store": DELIVERY_AND_UP | {"config", "sources", "render", "channels", "formats"},
    "http": DELIVERY_AND_UP | {"sources", "render", "channels", "store", "formats"},
    "sources": DELIVERY_AND_UP | {"render", "channels", "formats"},
    "render": DELIVERY_AND_UP | {"sources", "channels", "store", "formats"},
    "channels": DELIVERY_AND_UP | {"sources", "render", "store", "formats"},
    "formats": DELIVERY_AND_UP | {"sources", "render", "channels"},
    "social": UPPER | {"delivery", "channels", "sources", "editions", "site"},
    "delivery": UPPER | {"sources", "social", "editions", "site"},
    "editions": UPPER | {"delivery", "social", "sources", "site"},
    "site": UPPER | {"delivery", "social", "sources", "editions"},
    "triggers": DELIVERY_AND_UP | {"sources", "render", "channels", "store", "formats"},
    "pipeline": {"cli", "web", "schedule", "subscriptions", "bounces"},
}
BASE = {"errors", "models", "timing", "config_errors"}


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "digest"


def imports_by_unit() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        unit = path.relative_to(SRC).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("digest.") and unit_of(name) != unit:
                    found.setdefault(unit, set()).add(unit_of(name))
    return found


@pytest.mark.parametrize("unit", sorted(FORBIDDEN))
def test_no_unit_imports_a_layer_above_it(unit: str) -> None:
    reached = imports_by_unit().get(unit, set())
    assert sorted(reached & FORBIDDEN[unit]) == []


def test_the_base_imports_nothing_above_it() -> None:
    for unit in BASE:
        assert imports_by_unit().get(unit, set()) <= BASE - {unit}, unit


def test_only_the_cli_imports_the_cli_and_only_it_and_web_the_web() -> None:
    for unit, reached in imports_by_unit().items():
        if unit != "cli":
            assert "cli" not in reached, unit
        if unit not in ("cli", "web"):
            assert "web" not in reached, unit


def test_there_is_no_import_cycle_between_units() -> None:
    graph = imports_by_unit()
    cycles = sorted(
        {
            tuple(sorted((a, b)))
            for a, targets in graph.items()
            for b in targets
            if a in graph.get(b, set())
        }
    )
    assert cycles == []


def test_delivery_draws_nothing() -> None:
    """Progress goes out as events (SendProgress); the CLI draws them."""
    for path in (SRC / "delivery").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] != "rich", path.name
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] != "rich" for a in node.names), path.name
