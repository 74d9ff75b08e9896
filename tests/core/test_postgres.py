"""The same demo on PostgreSQL, switched by config alone.

Needs a PostgreSQL server: DIGEST_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/test, trust auth). Each test works in a schema of
its own, dropped afterwards; the test skips, saying why, when no server answers.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from digest.cli import app

REPO = Path(__file__).resolve().parents[2]
SERVER = os.environ.get("DIGEST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema_url() -> Iterator[str]:
    engine = create_engine(SERVER.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = f"digest_test_{uuid.uuid4().hex[:12]}"
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # no server here: say so instead of failing
        pytest.skip(f"PostgreSQL not reachable at {SERVER}: {type(exc).__name__}")
    try:
        yield f"{SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def test_demo_runs_on_postgresql(schema_url: str, tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    config["store"]["url"] = schema_url
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
    engine = create_engine(schema_url.replace("postgresql://", "postgresql+psycopg://", 1))
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
