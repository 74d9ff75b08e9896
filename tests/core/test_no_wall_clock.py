"""The rule that keeps CI green next month: no test depends on the wall clock.

Tests pass a frozen ``now`` (the ``now`` fixture, ``--at``) to everything that reads time.
A test may read the real clock only where the thing under test does too (a certificate's
validity, APScheduler's own next-run computation), and then the line says so with a
``# wall clock:`` comment giving the reason, and builds every date relative to it.
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
WALL_CLOCK = re.compile(r"datetime\.now\(|datetime\.utcnow\(|date\.today\(|time\.time\(\)")


def wall_clock_reads(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if path == Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if WALL_CLOCK.search(line) and "# wall clock:" not in line:
                found.append(f"{path.relative_to(root)}:{number}")
    return found


def test_no_test_reads_the_wall_clock_without_a_stated_reason() -> None:
    assert wall_clock_reads(TESTS) == []


def test_the_check_finds_an_unmarked_read(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(
        "when = datetime.now(UTC)\n"
        "stamp = time.time()  # wall clock: a real deadline\n"
        "today = date.today()\n",
        encoding="utf-8",
    )
    assert wall_clock_reads(tmp_path) == ["test_sample.py:1", "test_sample.py:3"]
