"""Start-up time of the CLI: `digest --help` and `digest check-config` against a bare
`python -c "import typer"`, each the best of N runs in fresh interpreters (alternating,
so both see the same load on a shared machine).

    .venv/bin/python benchmarks/startup.py [N]

Last line: startup_ratio=<digest --help / import typer> (goal ≤ 3).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "import_typer": [sys.executable, "-c", "import typer"],
    "digest_help": [sys.executable, "-m", "digest.cli", "--help"],
    "check_config": [
        sys.executable, "-m", "digest.cli", "--config", str(REPO / "config.yaml"), "check-config"
    ],
}  # fmt: skip


def best_seconds(runs: int) -> dict[str, float]:
    best = dict.fromkeys(COMMANDS, float("inf"))
    for _ in range(runs):
        for name, command in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, cwd=REPO)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    best = best_seconds(runs)
    for name, seconds in best.items():
        print(f"{name}_s={seconds:.3f}")
    print(f"check_config_ratio={best['check_config'] / best['import_typer']:.2f}")
    print(f"startup_ratio={best['digest_help'] / best['import_typer']:.2f}")


if __name__ == "__main__":
    main()
