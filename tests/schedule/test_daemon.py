"""The process side: single-instance lock, APScheduler job store, SIGTERM, kill/restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from digest.config import Settings
from digest.schedule import daemon as daemon_module
from digest.schedule import ledger, lock
from digest.schedule.daemon import JOBS_TABLE, Daemon
from digest.store import Store

NY = ZoneInfo("America/New_York")
FRI_4PM = datetime(2026, 11, 20, 16, 0, tzinfo=NY)
PYTHON = sys.executable


def test_second_scheduler_on_the_same_store_refuses(settings: Settings) -> None:
    first = lock.acquire(settings.store.url)
    assert first is not None
    try:
        with pytest.raises(lock.AlreadyRunning, match="already running on this store"):
            lock.acquire(settings.store.url)
        stop = threading.Event()
        stop.set()
        assert lock.acquire(settings.store.url, wait=True, poll=0.01, stop=stop) is None
    finally:
        first.release()
    again = lock.acquire(settings.store.url)  # free once released
    assert again is not None
    again.release()


def test_lock_held_by_another_process_blocks_the_cli(
    raw_config: dict[str, Any], tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config))
    url = raw_config["store"]["url"]
    holder = subprocess.Popen(
        [
            PYTHON,
            "-c",
            textwrap.dedent(f"""
            import sys
            from digest.schedule import lock
            held = lock.acquire({url!r})
            print("locked", flush=True)
            sys.stdin.readline()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        second = subprocess.run(
            [PYTHON, "-m", "digest.cli", "--config", str(config), "schedule"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "already running on this store" in second.stderr
        assert f"pid {holder.pid}" in second.stderr
    finally:
        holder.communicate("\n", timeout=10)


@pytest.mark.postgres
def test_postgres_advisory_lock_is_single_instance() -> None:
    url = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        first = lock.acquire(url)
    except Exception as exc:  # the server is part of the CI environment
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    assert first is not None
    try:
        with pytest.raises(lock.AlreadyRunning, match="advisory lock"):
            lock.acquire(url)
    finally:
        first.release()
    lock.acquire(url).release()  # type: ignore[union-attr]


@pytest.mark.postgres
def test_postgres_lock_is_one_whatever_the_url_spells_the_host() -> None:
    try:
        first = lock.acquire("postgresql://postgres@127.0.0.1:5432/test")
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    assert first is not None
    try:
        with pytest.raises(lock.AlreadyRunning, match="advisory lock"):
            lock.acquire("postgresql://postgres@localhost:5432/test")
    finally:
        first.release()


def test_jobs_are_stored_in_the_project_database_and_unpickle(
    make_settings: Callable[..., Settings],
    raw_config: dict[str, Any],
    store: Store,
    pipeline: Any,
) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from sqlalchemy import create_engine, inspect

    weekly = {
        **raw_config["newsletters"]["weekly"],
        "grace": "6h",
        "approval": {"reviewers": ["editor@example.org"], "lead_time": "2h"},
    }
    settings = make_settings(newsletters={"weekly": weekly})
    daemon = Daemon(settings, store, runner=pipeline)
    scheduler = daemon.make_scheduler(blocking=False)
    scheduler.start(paused=True)  # job stores open; nothing is executed
    try:
        assert daemon.sync_jobs(scheduler) == ["prepare:weekly", "send:weekly"]
        send = scheduler.get_job("send:weekly")
        assert send.misfire_grace_time == 6 * 3600
        assert send.coalesce is True and send.max_instances == 1
        now = datetime.now(UTC)  # wall clock: APScheduler computes next_run_time from it
        local_send = send.next_run_time.astimezone(NY)
        assert (local_send.strftime("%a %H:%M"), local_send > now) == ("Fri 16:00", True)
        prepare = scheduler.get_job("prepare:weekly")
        assert prepare.next_run_time == send.next_run_time - timedelta(hours=2)
        # a config without approval removes the prepare job on reload
        daemon.settings = make_settings()
        assert daemon.sync_jobs(scheduler) == ["send:weekly"]
    finally:
        scheduler.shutdown(wait=False)
    engine = create_engine(settings.store.url)
    assert JOBS_TABLE in inspect(engine).get_table_names()
    fresh = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)
    fresh.start(scheduler, "default")
    [job] = fresh.get_all_jobs()  # unpickled from the database by a new store
    assert job.id == "send:weekly" and job.args == ("weekly",)
    assert job.func is daemon_module.send_job
    engine.dispose()


def test_stored_job_function_runs_the_period_through_the_ledger(
    settings: Settings, store: Store, pipeline: Any, clock: Any
) -> None:
    clock.set(FRI_4PM + timedelta(seconds=2))
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    daemon_module._current = daemon
    try:
        daemon_module.send_job("weekly")
        daemon_module.send_job("weekly")  # a duplicate fire (e.g. coalesced) does nothing
        daemon_module.send_job("gone-from-config")
    finally:
        daemon_module._current = None
    assert len(pipeline.calls) == 1


def test_sigterm_lets_the_run_in_flight_finish(
    settings: Settings, store: Store, pipeline: Any, clock: Any
) -> None:
    pipeline.gate = threading.Event()
    clock.set(FRI_4PM + timedelta(minutes=1))
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    worker = threading.Thread(target=daemon.catch_up)
    worker.start()
    assert pipeline.entered.wait(10)
    daemon.request_stop()  # what the SIGTERM handler does
    assert daemon.stopping.is_set()
    assert daemon.wait_inflight(0.05) is False  # still sending
    pipeline.gate.set()
    assert daemon.wait_inflight(10) is True
    worker.join(10)
    record = ledger.get(store, "weekly", "2026-11-20T16:00-05:00")
    assert record is not None and record.status == "succeeded"
    assert len(pipeline.sent()) == 5


def test_schedule_process_stops_cleanly_on_sigterm(
    raw_config: dict[str, Any], tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config))
    process = subprocess.Popen(
        [PYTHON, "-m", "digest.cli", "--config", str(config), "schedule", "--log-level", "DEBUG"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        lines = []
        for line in process.stderr:
            lines.append(line)
            if "event=scheduler.started" in line:
                break
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
        lines += rest.splitlines(keepends=True)
    finally:  # a failing assert or a timeout above must not leave the daemon running
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, "".join(lines)
    log = "".join(lines)
    assert "event=scheduler.stopping" in log and "event=scheduler.stopped clean=True" in log
    assert "jobs=send:weekly" in log
    assert not lock.lock_path(raw_config["store"]["url"]).exists() or (
        lock.acquire(raw_config["store"]["url"]) is not None
    )


KILLED_RUN = """
import os, sys, json
from datetime import datetime
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import FakePipeline
from digest.config import load_config
from digest.store import open_store
from digest.schedule.daemon import Daemon

class DiesMidway(FakePipeline):
    def _deliver(self, edition_id, report):
        done = {{(s["edition"], s["to"]) for s in self.sent()}}
        for to in self.recipients[:2]:
            with self.sent_log.open("a") as handle:
                handle.write(json.dumps({{"edition": edition_id, "to": to}}) + "\\n")
        os._exit(137)  # SIGKILL-like: no cleanup, no ledger update

settings = load_config({config!r})
store = open_store(settings.store.url)
now = datetime.fromisoformat({now!r})
Daemon(settings, store, runner=DiesMidway(Path({sent!r})), clock=lambda: now).catch_up()
"""


@pytest.mark.slow
def test_process_killed_mid_run_is_completed_once_after_restart(
    raw_config: dict[str, Any], tmp_path: Path, pipeline: Any, clock: Any
) -> None:
    from digest.config import load_config
    from digest.store import open_store

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config))
    now = FRI_4PM + timedelta(minutes=3)
    script = KILLED_RUN.format(
        tests=str(Path(__file__).parent),
        config=str(config),
        now=now.isoformat(),
        sent=str(pipeline.sent_log),
    )
    died = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, timeout=60)
    assert died.returncode == 137, died.stderr
    assert len(pipeline.sent()) == 2
    settings = load_config(config)
    store = open_store(settings.store.url)
    try:
        record = ledger.get(store, "weekly", "2026-11-20T16:00-05:00")
        assert record is not None and record.status == "running"
        assert ledger.is_stale(record, now)  # its process is gone
        clock.set(now + timedelta(minutes=1))
        results = Daemon(settings, store, runner=pipeline, clock=clock).catch_up()
        assert [r.outcome for r in results] == ["succeeded"]
        assert sorted(s["to"] for s in pipeline.sent()) == sorted(pipeline.recipients)
        assert Daemon(settings, store, runner=pipeline, clock=clock).catch_up() == []
    finally:
        store.dispose()
    assert os.path.exists(pipeline.sent_log)
