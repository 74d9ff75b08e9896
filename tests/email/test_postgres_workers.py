"""N `digest send` workers share one edition on PostgreSQL (FOR UPDATE SKIP LOCKED).

Needs a PostgreSQL server: DIGEST_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/test, trust auth); each test works in a schema of
its own and skips, saying why, when no server answers.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from digest.store import open_store

from .conftest import Sink, add_many, delivery_statuses, make_edition, write_smtp_config
from .test_guarantees import digest_cli, start_cli

pytestmark = pytest.mark.postgres


def test_three_workers_share_an_edition_and_a_killed_one_loses_only_its_in_flight(
    raw_config: dict[str, Any], tmp_path: Path, now: datetime, sink: Sink, postgres_schema_url: str
) -> None:
    sink.pipelining = True
    raw_config["store"]["url"] = postgres_schema_url
    config = tmp_path / "config.yaml"
    write_smtp_config(raw_config, config, sink.port, pool_size=3)  # type: ignore[attr-defined]
    store = open_store(postgres_schema_url)
    emails = add_many(store, now, 1500)
    edition = make_edition(store, now)
    workers = [start_cli(config, "send", "weekly") for _ in range(3)]
    try:
        deadline = time.monotonic() + 120
        while len(sink.received) < 300:
            for worker in workers:
                if worker.poll() is not None:
                    pytest.fail(f"a worker ended early: {worker.communicate()}")
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(workers[0].pid, signal.SIGKILL)  # one worker dies mid-send
        workers[0].wait()
        for worker in workers[1:]:
            out, err = worker.communicate(timeout=300)
            # 0, or 1 when it ended while the dead worker's copies still looked in flight
            assert worker.returncode in (0, 1), out + err
    finally:
        for worker in workers:  # never leave a worker behind, even when an assert fails
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    final = digest_cli(config, "send", "weekly")
    assert final.returncode == 0, final.stdout + final.stderr
    counts = sink.counts()
    assert [e for e in emails if counts[e] == 0] == []
    assert sum(counts.values()) - len(emails) <= 3  # the killed worker's connections
    assert delivery_statuses(store, edition) == {"sent": 1500}
    store.dispose()
