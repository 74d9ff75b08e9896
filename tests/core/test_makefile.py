"""The Makefile's targets name files that exist (``make golden`` once ran a missing test)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def target(name: str) -> str:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    found = re.search(rf"^{name}:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert found, f"no '{name}' target in the Makefile"
    return found.group(1)


def test_every_file_a_target_names_exists() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    named = re.findall(r"\b((?:tests|benchmarks)/[\w/.-]+\.py)\b", makefile)
    assert named
    assert [path for path in named if not (REPO / path).exists()] == []


def test_golden_refreshes_every_golden_suite() -> None:
    suites = {str(p.relative_to(REPO)) for p in REPO.glob("tests/*/test_golden.py")}
    assert suites and all(suite in target("golden") for suite in suites)
