"""Kill -9 the sender at random points, restart it: everyone gets the edition once,
except at most the copies in flight (one per SMTP connection) per kill."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import insert

from digest.store import Store
from digest.store.tables import SubscriberRow, SubscriptionRow

from .conftest import Sink, make_edition

RECIPIENTS = 3_000  # the 10,000-scale figures come from benchmarks/kill.py
KILLS = 20
POOL = 4  # SMTP connections: at most this many copies in flight


def populate(store: Store, now: datetime) -> list[str]:
    emails = [f"m{i}@example.net" for i in range(1, RECIPIENTS + 1)]
    with store.session() as session:
        session.execute(
            insert(SubscriberRow),
            [
                {
                    "id": i,
                    "email": e,
                    "name": None,
                    "status": "active",
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i, e in enumerate(emails, 1)
            ],
        )
        session.execute(
            insert(SubscriptionRow),
            [
                {
                    "subscriber_id": i,
                    "list_name": "weekly",
                    "status": "confirmed",
                    "created_at": now,
                    "confirmed_at": now,
                }
                for i in range(1, RECIPIENTS + 1)
            ],
        )
    return emails


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_killed_sender_resumes_without_skipping_anyone(
    raw_config: dict[str, Any],
    sink: Sink,
    tmp_path: Path,
    now: datetime,
    make_settings: Callable[..., Any],
) -> None:
    from digest.store import open_store

    sink.pipelining = True
    raw = dict(raw_config)
    raw["channels"] = {
        "smtp": {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": sink.port,  # type: ignore[attr-defined]
            "security": "none",
            "pool_size": POOL,
        }
    }
    raw["newsletters"]["weekly"]["channels"] = ["smtp"]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    store = open_store(raw["store"]["url"])
    emails = populate(store, now)
    make_edition(store, now)
    store.dispose()
    command = [sys.executable, "-m", "digest.cli", "-c", str(config), "send", "weekly"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    chance = random.Random(20261120)
    kills = 0
    while kills < KILLS:
        before = len(sink.received)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        # kill at a random point once sending has visibly started
        target = before + chance.randint(20, 400)
        while len(sink.received) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if proc.poll() is not None:
            break  # finished before this kill
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    counts = sink.counts()
    missing = [e for e in emails if counts[e] == 0]
    extra = sum(n - 1 for n in counts.values() if n > 1)
    assert not missing
    assert kills >= 10  # the kills really happened mid-send
    assert extra <= kills * POOL, f"{extra} duplicates for {kills} kills"
    assert set(counts) == set(emails)
