"""run_period and the daemon's catch-up: once per period, catch up within grace, resume."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from digest.config import Settings
from digest.schedule import ledger, run_period
from digest.schedule.daemon import Daemon
from digest.store import Store
from digest.store.tables import EditionRow, RunRow

NY = ZoneInfo("America/New_York")
FRI_4PM = datetime(2026, 11, 20, 16, 0, tzinfo=NY)  # a send time of 'fri 16:00'


def run_rows(store: Store) -> list[RunRow]:
    with store.session() as session:
        rows = list(session.scalars(select(RunRow).order_by(RunRow.id)))
        session.expunge_all()
        return rows


def edition_count(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(EditionRow)) or 0)


def test_a_period_runs_once_and_records_report(
    settings: Settings, store: Store, pipeline: Any
) -> None:
    first = run_period(settings, store, "weekly", FRI_4PM, now=FRI_4PM, runner=pipeline)
    again = run_period(
        settings, store, "weekly", FRI_4PM, now=FRI_4PM + timedelta(minutes=5), runner=pipeline
    )
    assert first.outcome == "succeeded"
    assert again.outcome == "already_done"
    assert len(pipeline.calls) == 1
    assert len(pipeline.sent()) == 5
    record = first.record
    assert record is not None
    assert record.status == "succeeded" and record.report is not None
    assert record.report["sent"] == 5 and record.attempts == 1
    assert record.edition_id is not None
    assert record.period_key == "2026-11-20T16:00-05:00"


def test_down_over_fire_time_back_an_hour_later_runs_once(
    settings: Settings, store: Store, pipeline: Any, clock: Any
) -> None:
    clock.set(FRI_4PM + timedelta(hours=1))
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    results = daemon.catch_up()
    assert [r.outcome for r in results] == ["succeeded"]
    assert daemon.catch_up() == []  # a second start-up or sweep finds nothing to do
    clock.advance(timedelta(minutes=30))
    assert daemon.fire("weekly") is not None  # a late scheduler fire is a no-op too
    assert len(pipeline.calls) == 1
    assert len(pipeline.sent()) == 5
    assert [r.status for r in run_rows(store)] == ["succeeded"]


def test_down_30_hours_with_grace_6h_is_skipped_and_reported(
    staff_settings: Callable[..., Settings],
    store: Store,
    pipeline: Any,
    clock: Any,
    outbox: Callable[[Settings], list[Any]],
) -> None:
    settings = staff_settings(grace="6h")
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    clock.set(FRI_4PM - timedelta(weeks=1) + timedelta(minutes=1))
    assert [r.outcome for r in daemon.catch_up()] == ["succeeded"]  # it ran last week
    pipeline.calls.clear()
    clock.set(FRI_4PM + timedelta(hours=30))
    assert daemon.catch_up() == []
    assert daemon.catch_up() == []
    assert pipeline.calls == []
    rows = [r for r in run_rows(store) if r.status == "skipped"]
    assert [r.period_key for r in rows] == ["2026-11-20T16:00-05:00"]
    assert rows[0].error is not None and "beyond the grace" in rows[0].error
    notices = [n for n in outbox(settings) if "Skipped" in n["Subject"]]
    assert len(notices) == 1
    assert notices[0]["To"] == "staff@example.org"
    # the next week runs normally
    clock.set(FRI_4PM + timedelta(weeks=1, minutes=1))
    assert [r.outcome for r in daemon.catch_up()] == ["succeeded"]


def test_a_fresh_scheduler_records_no_skipped_runs_for_periods_before_it_ran(
    staff_settings: Callable[..., Settings],
    store: Store,
    pipeline: Any,
    clock: Any,
    outbox: Callable[[Settings], list[Any]],
) -> None:
    settings = staff_settings(grace="6h")
    clock.set(FRI_4PM + timedelta(hours=30))  # first start ever, after Friday's send time
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    assert daemon.catch_up() == []
    assert run_rows(store) == [] and outbox(settings) == [] and pipeline.calls == []
    clock.set(FRI_4PM + timedelta(weeks=1, minutes=1))
    assert [r.outcome for r in daemon.catch_up()] == ["succeeded"]


def test_within_grace_30_hours_late_still_runs(
    staff_settings: Callable[..., Settings], store: Store, pipeline: Any, clock: Any
) -> None:
    settings = staff_settings(grace="2d")
    clock.set(FRI_4PM + timedelta(hours=30))
    results = Daemon(settings, store, runner=pipeline, clock=clock).catch_up()
    assert [r.outcome for r in results] == ["succeeded"]


def test_ticks_across_dst_switches_run_once_a_week(
    make_settings: Callable[..., Settings], store: Store, pipeline: Any, clock: Any
) -> None:
    """For five weeks across 1 November: the send job at each exact fire time (as
    APScheduler would call it) and a catch-up sweep every three hours."""
    from digest.triggers import cron_trigger, fire_times

    settings = make_settings()
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    start = datetime(2026, 10, 16, 12, tzinfo=UTC)
    end = start + timedelta(weeks=5)
    fires = fire_times(cron_trigger(settings.newsletters["weekly"]), start, end)
    sweeps = [start + timedelta(hours=3 * i) for i in range(5 * 7 * 8)]
    for moment in sorted([*fires, *sweeps]):
        clock.set(moment)
        if moment in fires:
            daemon.fire("weekly")
        daemon.catch_up()
    keys = [c["period"] for c in pipeline.calls]
    assert keys == [
        "2026-10-16T16:00-04:00",
        "2026-10-23T16:00-04:00",
        "2026-10-30T16:00-04:00",
        "2026-11-06T16:00-05:00",
        "2026-11-13T16:00-05:00",
    ]
    # the week before the start is from before it ever ran: neither run nor "skipped"
    assert [r.status for r in run_rows(store)] == ["succeeded"] * 5


@pytest.mark.parametrize(
    ("zone", "first_send"),
    [
        ("America/New_York", datetime(2026, 2, 27, 16, tzinfo=ZoneInfo("America/New_York"))),
        ("Europe/London", datetime(2026, 3, 20, 16, tzinfo=ZoneInfo("Europe/London"))),
        ("Europe/London", datetime(2026, 10, 16, 16, tzinfo=ZoneInfo("Europe/London"))),
    ],
)
def test_catch_up_sweeps_across_other_switches(
    make_settings: Callable[..., Settings],
    store: Store,
    pipeline: Any,
    clock: Any,
    zone: str,
    first_send: datetime,
) -> None:
    settings = make_settings(
        newsletters={
            "weekly": {
                "title": "W",
                "schedule": "fri 16:00",
                "timezone": zone,
                "formats": ["weekly_list"],
            }
        }
    )
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    for week in range(4):
        for hours in (0.5, 5):  # a sweep half an hour after the send time, then another
            clock.set((first_send + timedelta(weeks=week)).astimezone(UTC) + timedelta(hours=hours))
            daemon.catch_up()
    local = [datetime.fromisoformat(c["period"]) for c in pipeline.calls]
    assert len(local) == 4
    assert {(t.weekday(), t.hour, t.minute) for t in local} == {(4, 16, 0)}
    assert len({t.utcoffset() for t in local}) == 2  # the switch is inside the four weeks


def test_two_claimants_at_once_run_the_period_once(
    settings: Settings, store: Store, pipeline: Any, clock: Any
) -> None:
    """Two daemons (threads) on one store fire the same job at the same moment."""
    pipeline.gate = threading.Event()
    clock.set(FRI_4PM + timedelta(seconds=1))
    daemons = [Daemon(settings, store, runner=pipeline, clock=clock) for _ in range(2)]
    outcomes: list[str] = []
    first_done = threading.Event()
    start = threading.Barrier(2)

    def fire(daemon: Daemon) -> None:
        start.wait()
        result = daemon.fire("weekly")
        outcomes.append(result.outcome if result else "none")
        first_done.set()

    threads = [threading.Thread(target=fire, args=(d,)) for d in daemons]
    for thread in threads:
        thread.start()
    assert pipeline.entered.wait(10)
    # the loser returns at once, while the winner is still inside its run
    assert first_done.wait(10)
    assert outcomes == ["claimed_elsewhere"]
    pipeline.gate.set()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["claimed_elsewhere", "succeeded"]
    assert len(pipeline.calls) == 1
    assert len(pipeline.sent()) == 5


def test_killed_mid_run_then_restarted_completes_the_edition_once(
    settings: Settings, store: Store, pipeline: Any, clock: Any, killed: type[BaseException]
) -> None:
    pipeline.kill_after = 2
    clock.set(FRI_4PM + timedelta(minutes=1))
    with pytest.raises(killed):
        Daemon(settings, store, runner=pipeline, clock=clock).catch_up()
    assert [r.status for r in run_rows(store)] == ["running"]
    assert len(pipeline.sent()) == 2
    clock.advance(timedelta(minutes=10))
    restarted = Daemon(settings, store, runner=pipeline, clock=clock)
    assert [r.outcome for r in restarted.catch_up()] == ["succeeded"]
    sent = pipeline.sent()
    assert sorted(s["to"] for s in sent) == sorted(pipeline.recipients)  # each exactly once
    assert edition_count(store) == 1
    row = run_rows(store)[0]
    assert row.status == "succeeded" and row.report is not None
    assert row.report["attempts"] == 2
    assert all(call["collect"] for call in pipeline.calls)  # resumed run collects again


def test_a_live_running_row_is_not_taken_over(
    settings: Settings, store: Store, pipeline: Any
) -> None:
    owner = ledger.new_owner()
    claimed = ledger.claim(
        store, "weekly", "2026-11-20T16:00-05:00", FRI_4PM, now=FRI_4PM, owner=owner, phase="send"
    )
    assert claimed is not None
    result = run_period(settings, store, "weekly", FRI_4PM, now=FRI_4PM, runner=pipeline)
    assert result.outcome == "claimed_elsewhere" and pipeline.calls == []
    ledger.release(owner)  # the owner is gone: now it is stale and resumable
    assert (
        run_period(settings, store, "weekly", FRI_4PM, now=FRI_4PM, runner=pipeline).outcome
        == "succeeded"
    )


def test_failed_run_notifies_staff_and_is_retried_later(
    staff_settings: Callable[..., Settings],
    store: Store,
    pipeline: Any,
    clock: Any,
    outbox: Callable[[Settings], list[Any]],
) -> None:
    settings = staff_settings()
    pipeline.fail_with = RuntimeError("SMTP relay mail.example.org refused the connection")
    clock.set(FRI_4PM + timedelta(minutes=1))
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    assert [r.outcome for r in daemon.catch_up()] == ["failed"]
    row = run_rows(store)[0]
    assert row.status == "failed" and row.error is not None and "SMTP relay" in row.error
    [notice] = outbox(settings)
    body = notice.get_payload()
    assert "Run failed" in notice["Subject"] and "SMTP relay" in body
    assert "nothing was sent" in body.lower() or "no edition" in body.lower()
    assert daemon.catch_up() == []  # not retried in a tight loop
    pipeline.fail_with = None
    clock.advance(timedelta(minutes=11))
    assert [r.outcome for r in daemon.catch_up()] == ["succeeded"]
    assert len(pipeline.sent()) == 5


def test_permanently_failed_mail_makes_the_run_failed(settings: Settings, store: Store) -> None:
    from digest.models import RunReport

    def refused(settings: Settings, newsletter_id: str, **_: Any) -> RunReport:
        return RunReport(newsletter=newsletter_id, recipients=3, sent=1, failed=2)

    result = run_period(settings, store, "weekly", FRI_4PM, now=FRI_4PM, runner=refused)
    assert result.outcome == "failed"
    assert result.record is not None and "2 email(s) failed" in (result.record.error or "")


def test_a_resumed_run_reports_its_whole_duration_not_only_the_last_attempt(
    settings: Settings, store: Store, pipeline: Any
) -> None:
    from digest.cli.schedule import past_table

    pipeline.fail_with = RuntimeError("relay down")
    started = FRI_4PM
    run_period(
        settings,
        store,
        "weekly",
        FRI_4PM,
        now=started,
        runner=pipeline,
        clock=lambda: started + timedelta(seconds=10),
    )
    pipeline.fail_with = None
    later = FRI_4PM + timedelta(minutes=30)
    result = run_period(
        settings,
        store,
        "weekly",
        FRI_4PM,
        now=later,
        runner=pipeline,
        clock=lambda: later + timedelta(seconds=5),
    )
    record = result.record
    assert record is not None and record.status == "succeeded" and record.attempts == 2
    assert record.duration == timedelta(seconds=5)
    assert record.total_duration == timedelta(minutes=30, seconds=5)
    took = past_table(store, "weekly", 5).columns[5]
    assert list(took.cells) == ["1805.0s (last 5.0s)"]
