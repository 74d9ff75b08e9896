"""The same demo on PostgreSQL, switched by config alone.

Needs a PostgreSQL server: DIGEST_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/test, trust auth). Each test works in a schema of
its own, dropped afterwards; the test skips, saying why, when no server answers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from digest.cli import app

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


def test_demo_runs_on_postgresql(postgres_schema_url: str, tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    config["store"]["url"] = postgres_schema_url
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    runner = CliRunner()
    args = ["--config", str(tmp_path / "config.yaml"), "demo"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    mails = sorted((tmp_path / "out" / "outbox" / "new").iterdir())
    assert len(mails) == 40  # 22 weekly + 9 spotlight + 9 political subscribers
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "already ran" in second.output
    assert len(list((tmp_path / "out" / "outbox" / "new").iterdir())) == len(mails)
    engine = create_engine(postgres_schema_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        editions = connection.execute(
            text("SELECT count(*) FROM editions WHERE status = 'sent'")
        ).scalar_one()
        drafts = connection.execute(
            text("SELECT count(*) FROM editions WHERE status = 'draft'")
        ).scalar_one()
        sent = connection.execute(
            text("SELECT count(*) FROM deliveries WHERE status = 'sent'")
        ).scalar_one()
    engine.dispose()
    assert (editions, sent) == (3, 40)
    assert drafts >= 1  # the demo leaves the next editions as drafts
