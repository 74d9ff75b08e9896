"""`digest --help` and `digest check-config` import nothing they do not use: no database,
migrations, web stack, HTTP client or templates (their import is most of a slow start)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "httpx", "jinja2", "mjml")
PROBE = """
import json, sys
from digest.cli import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args", [["--help"], ["--config", str(REPO / "config.yaml"), "check-config"]]
)
def test_command_imports_no_heavy_package(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=REPO
    )
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert "digest" in loaded
    assert sorted(loaded & set(HEAVY)) == []
