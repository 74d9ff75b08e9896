"""``digest schedule``: APScheduler cron jobs per newsletter, a run ledger, catch-up.

APScheduler (BlockingScheduler, SQLAlchemyJobStore in the project's database) fires each
newsletter's send job at its local wall-clock time, plus a *prepare* job ``lead_time``
earlier when approval is on. The scheduler's own bookkeeping is not trusted for
"exactly once": every job goes through :func:`run_period` and the run ledger, and a
catch-up pass (at start-up, on SIGHUP and once a minute) runs any period whose send time
passed without a finished run, within the newsletter's grace, or records it as skipped.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_STARTED

from digest.config import Settings, load_config
from digest.delivery.sender import STOP as SEND_STOP
from digest.delivery.sender import request_stop as request_send_stop
from digest.logs import event
from digest.notify import NoticeError, send_notice
from digest.schedule import ledger, lock
from digest.schedule.retries import retry_deferred
from digest.schedule.runs import (
    Clock,
    Runner,
    RunResult,
    run_period,
    runner_with,
    system_clock,
)
from digest.store import Store
from digest.timing import period_ending
from digest.triggers import LeadTrigger, cron_trigger, latest_send_time, next_send_time

log = logging.getLogger("digest.schedule")

JOBS_TABLE = "digest_scheduler_jobs"
SWEEP_EVERY = timedelta(minutes=1)
# Failed runs are retried automatically (catch-up) this many times, spaced out.
MAX_AUTO_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=10)

_current: Daemon | None = None


# Job functions: importable by name, plain arguments (persistent stores pickle jobs).
def send_job(newsletter_id: str) -> None:
    if _current is not None:
        _current.fire(newsletter_id)


def prepare_job(newsletter_id: str) -> None:
    if _current is not None:
        _current.prepare(newsletter_id)


def sweep_job() -> None:
    if _current is not None:
        _current.catch_up()


def reload_job() -> None:
    if _current is not None:
        _current.reload()


class Daemon:
    """The scheduler process; job bodies and the clock are injectable for tests."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        runner: Runner | None = None,
        clock: Clock | None = None,
        config_path: Path | None = None,
        stop_timeout: float = 60.0,
    ) -> None:
        self.settings = settings
        self.store = store
        self.runner = runner
        self._default_runner: tuple[Settings, Runner] | None = None
        self.clock = clock or system_clock
        self.config_path = config_path
        self.stop_timeout = stop_timeout
        self.stopping = threading.Event()
        self.scheduler: Any = None
        self._inflight = 0
        self._inflight_changed = threading.Condition()

    # ---- the job bodies -------------------------------------------------------------

    def fire(self, newsletter_id: str) -> RunResult | None:
        """The send job: run the period whose send time just passed."""
        newsletter = self.settings.newsletters.get(newsletter_id)
        if newsletter is None:  # removed from config since the job was stored
            return None
        now = self.clock()
        fire_time = latest_send_time(newsletter, now)
        if fire_time is None or now - fire_time > newsletter.grace:
            return None
        return self._run(newsletter_id, fire_time, now)

    def prepare(self, newsletter_id: str) -> RunResult | None:
        """The approval job: build the coming period's edition and email reviewers."""
        newsletter = self.settings.newsletters.get(newsletter_id)
        if newsletter is None or newsletter.approval is None:
            return None
        now = self.clock()
        send_at = next_send_time(newsletter, now)
        if send_at is None or send_at - newsletter.approval.lead_time > now:
            return None
        return self._run(newsletter_id, send_at, now)

    def catch_up(self, now: datetime | None = None) -> list[RunResult]:
        """Run what is due and was not run; record what is too late as skipped."""
        now = now or self.clock()
        results: list[RunResult] = []
        for newsletter_id in self.settings.newsletters:
            if self.stopping.is_set():
                break
            result = self._catch_up_one(newsletter_id, now)
            if result is not None:
                results.append(result)
            prepared = self.prepare_due(newsletter_id, now)
            if prepared is not None:
                results.append(prepared)
        if not self.stopping.is_set():
            retry_deferred(self.settings, self.store, now)
        return results

    def prepare_due(self, newsletter_id: str, now: datetime) -> RunResult | None:
        newsletter = self.settings.newsletters[newsletter_id]
        if newsletter.approval is None:
            return None
        send_at = next_send_time(newsletter, now)
        if send_at is None or send_at - newsletter.approval.lead_time > now:
            return None
        period = period_ending(send_at, newsletter.period, newsletter.timezone)
        if ledger.get(self.store, newsletter_id, period.key) is not None:
            return None  # already prepared (or being prepared)
        return self._run(newsletter_id, send_at, now)

    def _catch_up_one(self, newsletter_id: str, now: datetime) -> RunResult | None:
        newsletter = self.settings.newsletters[newsletter_id]
        fire_time = latest_send_time(newsletter, now)
        if fire_time is None:
            return None
        period = period_ending(fire_time, newsletter.period, newsletter.timezone)
        record = ledger.get(self.store, newsletter_id, period.key)
        if record is not None and not self._worth_retrying(record, now):
            return None
        late = now - fire_time
        if late <= newsletter.grace:
            event(
                log,
                "run.catch_up",
                newsletter=newsletter_id,
                period=period.key,
                late=str(late),
                status=record.status if record else "missing",
            )
            return self._run(newsletter_id, fire_time, now)
        if record is None and ledger.ran_before(self.store, newsletter_id, fire_time):
            self._skip(newsletter_id, period.key, fire_time, now, late)
        return None  # a period from before this newsletter ever ran is nobody's miss

    def _worth_retrying(self, record: ledger.RunRecord, now: datetime) -> bool:
        if record.status in ledger.FINISHED or record.status == "sending":
            return False  # 'sending': the delivery sweep retries its deferred copies
        if record.status == "running":
            return ledger.is_stale(record, now)
        if record.status == "failed":
            since = now - (record.finished_at or now)
            return record.attempts < MAX_AUTO_ATTEMPTS and since >= RETRY_AFTER * record.attempts
        return True  # awaiting_approval / held: re-check the reviewers' decision

    def _skip(
        self,
        newsletter_id: str,
        period_key: str,
        fire_time: datetime,
        now: datetime,
        late: timedelta,
    ) -> None:
        grace = self.settings.newsletters[newsletter_id].grace
        reason = (
            f"missed: the scheduler was not running at {fire_time.isoformat()}; "
            f"{late} late is beyond the grace of {grace}"
        )
        record = ledger.record_skipped(
            self.store, newsletter_id, period_key, fire_time, now=now, reason=reason
        )
        if record is None:
            return
        event(
            log,
            "run.skipped",
            logging.WARNING,
            newsletter=newsletter_id,
            period=period_key,
            reason=reason,
        )
        staff = self.settings.organization.staff_email
        if staff:
            title = self.settings.newsletters[newsletter_id].title
            try:
                send_notice(
                    self.settings,
                    staff,
                    f"[digest] Skipped: {title} ({period_key})",
                    f"'{title}' for the period ending {period_key} was not sent: "
                    f"{reason}.\nTo send it anyway: digest run {newsletter_id} "
                    f"--at {period_key}",
                    newsletter=newsletter_id,
                )
            except NoticeError as exc:
                event(log, "notice.failed", logging.ERROR, error=str(exc))

    def _run(self, newsletter_id: str, fire_time: datetime, now: datetime) -> RunResult:
        with self._inflight_changed:
            self._inflight += 1
        try:
            return run_period(
                self.settings,
                self.store,
                newsletter_id,
                fire_time,
                now=now,
                runner=self.runner or self._runner_for_settings(),
                clock=self.clock,
            )
        finally:
            with self._inflight_changed:
                self._inflight -= 1
                self._inflight_changed.notify_all()

    def _runner_for_settings(self) -> Runner:
        """The default runner with one Renderer per loaded config (templates compile once
        for the daemon's life, again after a reload)."""
        from digest.render import Renderer

        settings = self.settings
        if self._default_runner is None or self._default_runner[0] is not settings:
            self._default_runner = (settings, runner_with(Renderer(settings)))
        return self._default_runner[1]

    # ---- APScheduler wiring ---------------------------------------------------------

    def make_scheduler(self, blocking: bool = True) -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.schedulers.blocking import BlockingScheduler

        from digest.store.db import make_engine

        cls = BlockingScheduler if blocking else BackgroundScheduler
        return cls(
            jobstores={
                "default": SQLAlchemyJobStore(
                    engine=make_engine(self.settings.store.url), tablename=JOBS_TABLE
                ),
                "memory": MemoryJobStore(),
            },
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )

    def sync_jobs(self, scheduler: Any) -> list[str]:
        """Make the stored jobs match config.yaml; return the job ids now scheduled.

        ``replace_existing`` recomputes next run times from now and so drops an overdue
        run: that is why catch-up (from the ledger) runs after every sync.
        """
        wanted: dict[str, tuple[Callable[[str], None], Any, timedelta]] = {}
        for newsletter_id, newsletter in self.settings.newsletters.items():
            trigger = cron_trigger(newsletter)
            wanted[f"send:{newsletter_id}"] = (send_job, trigger, newsletter.grace)
            if newsletter.approval is not None:
                lead = LeadTrigger(trigger, newsletter.approval.lead_time)
                wanted[f"prepare:{newsletter_id}"] = (prepare_job, lead, newsletter.grace)
        for job in scheduler.get_jobs(jobstore="default"):
            if job.id not in wanted:
                scheduler.remove_job(job.id, jobstore="default")
        for job_id, (func, trigger, grace) in wanted.items():
            newsletter_id = job_id.split(":", 1)[1]
            scheduler.add_job(
                func,
                trigger,
                args=[newsletter_id],
                id=job_id,
                name=job_id,
                jobstore="default",
                replace_existing=True,
                misfire_grace_time=int(grace.total_seconds()) or 1,
            )
        return sorted(wanted)

    def reload(self) -> None:
        """Re-read config.yaml (SIGHUP), update the jobs, then catch up."""
        if self.config_path is not None:
            try:
                self.settings = load_config(self.config_path)
            except Exception as exc:  # keep running on the old config rather than die
                event(log, "config.reload_failed", logging.ERROR, error=str(exc))
                return
        if self.scheduler is not None:
            jobs = self.sync_jobs(self.scheduler)
            event(log, "config.reloaded", jobs=",".join(jobs))
        self.catch_up()

    # ---- the process ----------------------------------------------------------------

    def request_stop(self, *_: Any) -> None:
        """SIGTERM: start no new run; the run in flight finishes (or checkpoints) first."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        request_send_stop()  # a send in flight records its in-flight copies and stops
        event(log, "scheduler.stopping", inflight=self._inflight)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def _request_reload(self, _signum: int, _frame: FrameType | None) -> None:
        if self.scheduler is not None and not self.stopping.is_set():
            self.scheduler.add_job(
                reload_job,
                jobstore="memory",
                id="reload",
                replace_existing=True,
                misfire_grace_time=None,
            )

    def _on_started(self, jobs: list[str], lock_description: str) -> None:
        # A SIGTERM that came before the scheduler was running is honoured here.
        if self.stopping.is_set():
            self.scheduler.shutdown(wait=False)
            return
        # Before start() only pending jobs are visible: drop stored jobs that left config now.
        jobs = self.sync_jobs(self.scheduler)
        event(log, "scheduler.started", pid=os.getpid(), jobs=",".join(jobs), lock=lock_description)

    def wait_inflight(self, timeout: float) -> bool:
        """Wait for runs in progress to end; False if some are still going after ``timeout``."""
        with self._inflight_changed:
            return self._inflight_changed.wait_for(lambda: self._inflight == 0, timeout)

    def run(self, *, standby: bool = False) -> bool:
        """Take the lock, schedule, catch up, and block until SIGTERM/SIGINT.

        Returns True on a clean stop, False if a run was still in flight at the deadline
        (its ledger row stays 'running' and is resumed at the next start).
        """
        global _current
        SEND_STOP.clear()
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        if standby:
            event(log, "scheduler.standby", store=_store_name(self.settings.store.url))
        held = lock.acquire(self.settings.store.url, wait=standby, stop=self.stopping)
        if held is None:
            return True
        try:
            _current = self
            self.scheduler = self.make_scheduler()
            jobs = self.sync_jobs(self.scheduler)
            self.scheduler.add_job(
                sweep_job,
                "interval",
                id="sweep",
                jobstore="memory",
                seconds=int(SWEEP_EVERY.total_seconds()),
                next_run_time=datetime.now(UTC),
                misfire_grace_time=None,
            )
            if hasattr(signal, "SIGHUP"):
                signal.signal(signal.SIGHUP, self._request_reload)
            self.scheduler.add_listener(
                lambda _: self._on_started(jobs, held.description), EVENT_SCHEDULER_STARTED
            )
            if not self.stopping.is_set():
                self.scheduler.start()  # blocks until shutdown
            clean = self.wait_inflight(self.stop_timeout)
            event(log, "scheduler.stopped", clean=clean)
            return clean
        finally:
            _current = None
            SEND_STOP.clear()
            held.release()


def _store_name(url: str) -> str:
    return url.split("@")[-1]  # never log credentials in a database URL
