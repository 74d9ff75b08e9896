"""What delivery promises, against a real SMTP server on loopback.

Nothing lost (temporary trouble never fails anyone), at most the in-flight copies resent
(SIGTERM and Ctrl-C: none), SQLite safe for one organisation's normal overlap, and a
database error is one line with no claim left behind.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from digest.config import Settings
from digest.delivery import send_edition
from digest.models import RunReport
from digest.store import Store, open_store
from digest.store.tables import DeliveryRow, EditionRow

from .conftest import (
    Sink,
    add_many,
    delivery_statuses,
    free_port,
    make_edition,
    write_smtp_config,
)


def digest_cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "digest.cli", "-c", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def start_cli(config: Path, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "digest.cli", "-c", str(config), *args]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def edition_status(store: Store, edition_id: int) -> str:
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        assert row is not None
        return row.status


def attempts(store: Store, edition_id: int) -> set[int]:
    with store.session() as session:
        query = select(DeliveryRow.attempts).where(DeliveryRow.edition_id == edition_id)
        return set(session.scalars(query))


def test_relay_down_defers_everyone_fails_no_one_and_resumes_once(
    raw_config: dict[str, Any], tmp_path: Path, now: datetime, sink: Sink
) -> None:
    config = tmp_path / "config.yaml"
    write_smtp_config(raw_config, config, free_port(), retry_delay=0.1)  # nothing listens
    store = open_store(raw_config["store"]["url"])
    add_many(store, now, 40)
    edition = make_edition(store, now)
    down = digest_cli(config, "send", "weekly", "--linger", "0.5")
    assert down.returncode == 1, down.stderr
    assert "40 copies are still pending" in down.stdout
    assert "Traceback" not in down.stderr
    assert delivery_statuses(store, edition) == {"pending": 40}
    assert edition_status(store, edition) == "sending"
    assert attempts(store, edition) == {0}  # no server ever answered: no attempt used
    runs = digest_cli(config, "runs")
    assert runs.returncode == 0
    write_smtp_config(raw_config, config, sink.port)  # type: ignore[attr-defined]
    up = digest_cli(config, "send", "weekly")
    assert up.returncode == 0, up.stdout + up.stderr
    assert set(sink.counts().values()) == {1} and len(sink.counts()) == 40
    assert edition_status(store, edition) == "sent"


def test_only_the_deadline_fails_a_deferred_copy(
    smtp_settings: Callable[..., Settings], sink: Sink, store: Store, now: datetime
) -> None:
    sink.rcpt_reply = lambda rcpt: "451 4.7.1 greylisted" if rcpt == "m2@example.net" else None
    add_many(store, now, 3)
    edition = make_edition(store, now)
    settings = smtp_settings(give_up_after="2h", retry_delay=600)
    first = RunReport()
    send_edition(settings, store, edition, first, now=now, linger=0)
    assert (first.sent, first.deferred, first.failed) == (2, 1, 0)
    later = RunReport()  # a retry an hour on: still greylisted, still pending
    send_edition(settings, store, edition, later, now=now + timedelta(hours=1), linger=0)
    assert (later.deferred, later.failed) == (1, 0)
    final = RunReport()
    send_edition(settings, store, edition, final, now=now + timedelta(hours=3), linger=0)
    assert (final.sent, final.deferred, final.failed) == (2, 0, 1)
    with store.session() as session:
        row = session.get(DeliveryRow, (edition, 2))
        assert row is not None and row.status == "failed"
        assert "deadline" in (row.last_error or "") and "451" in (row.last_error or "")
        assert row.attempts == 2  # two real answers; the deadline itself is not one
    assert sink.counts()["m2@example.net"] == 0


def test_unwritable_maildir_outbox_defers_and_fails_no_one(
    raw_config: dict[str, Any], tmp_path: Path, now: datetime
) -> None:
    import yaml

    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "tmp").symlink_to("/dev/full")  # nothing can be written under tmp/
    raw = dict(raw_config)
    raw["channels"] = {"email": {"type": "maildir", "path": str(outbox)}}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    store = open_store(raw["store"]["url"])
    add_many(store, now, 30)
    edition = make_edition(store, now)
    full = digest_cli(config, "send", "weekly", "--linger", "0")
    assert full.returncode == 1
    assert "30 copies are still pending" in full.stdout
    assert delivery_statuses(store, edition) == {"pending": 30}
    (outbox / "tmp").unlink()  # space again
    fixed = digest_cli(config, "send", "weekly")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert len(list((outbox / "new").iterdir())) == 30
    assert delivery_statuses(store, edition) == {"sent": 30}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_record_the_copies_in_flight_and_resend_none(
    raw_config: dict[str, Any], tmp_path: Path, now: datetime, sink: Sink, signum: int
) -> None:
    sink.pipelining = True
    config = tmp_path / "config.yaml"
    write_smtp_config(raw_config, config, sink.port)  # type: ignore[attr-defined]
    store = open_store(raw_config["store"]["url"])
    emails = add_many(store, now, 1500)
    edition = make_edition(store, now)
    stops = 0
    for _ in range(3):
        before = len(sink.received)
        proc = start_cli(config, "send", "weekly")
        deadline = time.monotonic() + 60
        while len(sink.received) < before + 150 and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signum)
        _out, err = proc.communicate(timeout=60)
        stops += 1
        assert proc.returncode == 1, err
        assert "stopped" in err and "Traceback" not in err
        assert delivery_statuses(store, edition)["sending"] == 0  # nothing left claimed
    final = digest_cli(config, "send", "weekly")
    assert final.returncode == 0, final.stdout + final.stderr
    counts = sink.counts()
    assert stops >= 1
    assert [e for e in emails if counts[e] != 1] == []  # nobody missing, nobody twice


def test_two_sends_a_writer_and_a_reader_at_once_on_sqlite(
    raw_config: dict[str, Any], tmp_path: Path, now: datetime, sink: Sink
) -> None:
    config = tmp_path / "config.yaml"
    write_smtp_config(raw_config, config, sink.port, pool_size=2)  # type: ignore[attr-defined]
    store = open_store(raw_config["store"]["url"])
    emails = add_many(store, now, 1200)
    edition = make_edition(store, now)
    procs = [
        start_cli(config, "send", "weekly"),
        start_cli(config, "send", "weekly"),
        start_cli(config, "collect"),
        start_cli(config, "runs"),
    ]
    results = [(p.communicate(timeout=300), p.returncode) for p in procs]
    for (out, err), code in results:
        assert code == 0, out + err
    counts = sink.counts()
    assert [e for e in emails if counts[e] != 1] == []
    assert delivery_statuses(store, edition) == {"sent": 1200}


def test_two_newsletters_due_at_once_both_go_out(
    make_settings: Callable[..., Settings], sink: Sink, tmp_path: Path, now: datetime
) -> None:
    channel = {"type": "smtp", "host": "127.0.0.1", "port": sink.port, "security": "none"}  # type: ignore[attr-defined]
    letter = {"schedule": "fri 16:00", "formats": ["weekly_list"], "channels": ["smtp"]}
    settings = make_settings(
        channels={"smtp": channel},
        newsletters={"weekly": {**letter, "title": "Weekly"}, "daily": {**letter, "title": "D"}},
    )
    store = open_store(settings.store.url)
    add_many(store, now, 400, list_name="weekly")
    editions = [make_edition(store, now, "weekly"), make_edition(store, now, "daily")]
    with store.session() as session:  # the daily list: the same people
        from digest.subscribers import add_subscriber

        for i in range(1, 401):
            add_subscriber(session, f"m{i}@example.net", now, lists=("daily",))
    errors: list[BaseException] = []
    reports = [RunReport(), RunReport()]

    def send(index: int) -> None:
        own = open_store(settings.store.url)  # each run its own engine, as the scheduler's
        try:
            send_edition(settings, own, editions[index], reports[index], now=now)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert [r.sent for r in reports] == [400, 400]
    assert set(sink.counts().values()) == {2}


def test_a_database_error_is_one_line_and_leaves_no_claim(
    raw_config: dict[str, Any], tmp_path: Path, now: datetime, sink: Sink
) -> None:
    config = tmp_path / "config.yaml"
    write_smtp_config(raw_config, config, sink.port)  # type: ignore[attr-defined]
    store = open_store(raw_config["store"]["url"])
    add_many(store, now, 200)
    edition = make_edition(store, now)
    db = raw_config["store"]["url"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as connection:  # the disk fails after 50 copies are recorded
        connection.execute(
            "CREATE TRIGGER disk_fails BEFORE UPDATE OF status ON deliveries "
            "WHEN NEW.status = 'sent' AND "
            "(SELECT count(*) FROM deliveries WHERE status = 'sent') >= 50 "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END"
        )
    failed = digest_cli(config, "send", "weekly")
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    lines = [line for line in failed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "database error" in lines[0] and "simulated" in lines[0]
    assert delivery_statuses(store, edition)["sending"] == 0
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TRIGGER disk_fails")
    again = digest_cli(config, "send", "weekly")
    assert again.returncode == 0, again.stdout + again.stderr
    counts = sink.counts()
    assert len(counts) == 200
    assert sum(counts.values()) - 200 <= 4  # at most the copies in flight (pool_size 4)


def test_a_run_with_deferred_copies_stays_sending_and_the_scheduler_finishes_it(
    make_settings: Callable[..., Settings], sink: Sink, now: datetime
) -> None:
    from zoneinfo import ZoneInfo

    from digest.schedule import run_period
    from digest.schedule.daemon import Daemon
    from digest.timing import period_ending

    channel = {
        "type": "smtp",
        "host": "127.0.0.1",
        "port": sink.port,  # type: ignore[attr-defined]
        "security": "none",
        "retry_delay": 600,
    }
    letter = {"title": "Weekly", "schedule": "fri 16:00", "timezone": "America/New_York"}
    settings = make_settings(
        channels={"smtp": channel},
        newsletters={"weekly": {**letter, "formats": ["weekly_list"], "channels": ["smtp"]}},
        organization={
            "name": "Test Federation",
            "postal_address": "1 Test Street, Testville, TS 00000",
            "site_url": "https://digest.example.org",
            "sender": {"name": "Test Federation", "email": "news@example.org"},
            "staff_email": "staff@example.org",
        },
    )
    store = open_store(settings.store.url)
    fire = datetime(2026, 11, 20, 16, tzinfo=ZoneInfo("America/New_York"))
    period = period_ending(fire, timedelta(days=7), "America/New_York")
    add_many(store, now, 20)
    edition = make_edition(store, now, period_key=period.key)
    greylisted = {"m3@example.net", "m7@example.net"}
    sink.rcpt_reply = lambda rcpt: "451 4.7.1 greylisted" if rcpt in greylisted else None

    def runner(settings: Settings, newsletter_id: str, **_: Any) -> RunReport:
        report = RunReport(newsletter=newsletter_id)
        send_edition(settings, store, edition, report, now=now, linger=0)
        return report

    first = run_period(settings, store, "weekly", fire, now=now, runner=runner)
    assert first.outcome == "sending" and first.record is not None
    assert first.record.error is None  # deferred is not failed
    assert edition_status(store, edition) == "sending"
    notices = [rcpt for rcpt, _ in sink.received if rcpt == "staff@example.org"]
    assert len(notices) == 1
    [notice] = sink.messages_to("staff@example.org")
    assert "Deferred" in notice["Subject"]
    assert f"digest send weekly --edition {edition}" in notice.get_payload(decode=True).decode()
    # a minute later nothing is due yet; after the backoff the greylisting has passed
    daemon = Daemon(settings, store, clock=lambda: now + timedelta(minutes=20))
    sink.rcpt_reply = lambda _rcpt: None
    daemon.catch_up(now + timedelta(minutes=20))
    assert delivery_statuses(store, edition) == {"sent": 20}
    assert edition_status(store, edition) == "sent"
    again = run_period(settings, store, "weekly", fire, now=now + timedelta(hours=1))
    assert again.outcome == "already_done" and again.status == "succeeded"
    assert len([r for r, _ in sink.received if r == "staff@example.org"]) == 1  # one notice
    assert set(sink.counts().values()) == {1}
