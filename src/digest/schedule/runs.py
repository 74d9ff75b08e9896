"""Running one (newsletter, period) exactly once, through the run ledger.

:func:`run_period` is the one path every run takes: the daemon's cron jobs, the catch-up
at start-up and ``digest run`` by hand. It claims the period's row (a period runs at most
once), calls the runner (by default :func:`digest.pipeline.run_newsletter`), and records
status, report, error and timings. A crashed run is resumed, not restarted: the runner
collects again but reuses the frozen edition and the delivery and post ledgers.

With approval configured the period runs in two phases: *prepare* (build the edition,
email the reviewers a preview) from ``send time - lead_time``, and *send* at the send
time, only if the edition is approved (or per ``on_timeout``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from digest.config import Settings
from digest.delivery.sender import SendStopped, send_edition
from digest.logs import event, redact_addresses, run_context
from digest.models import RunReport
from digest.notify import NoticeError, notify_deferred, notify_failure, send_notice
from digest.schedule import approval, ledger
from digest.schedule.ledger import FINISHED, RunRecord
from digest.store import Store
from digest.store.tables import EditionRow
from digest.timing import Period, period_ending

if TYPE_CHECKING:
    from digest.render import Renderer

log = logging.getLogger("digest.schedule")

Clock = Callable[[], datetime]


class Runner(Protocol):
    """What does the work of a run; :func:`digest.pipeline.run_newsletter` by default."""

    def __call__(
        self,
        settings: Settings,
        newsletter_id: str,
        *,
        now: datetime,
        period: Period | None = None,
        store: Store | None = None,
        collect: bool = True,
        deliver: bool = True,
        post: bool = True,
    ) -> RunReport: ...


def default_runner(
    settings: Settings,
    newsletter_id: str,
    *,
    now: datetime,
    period: Period | None = None,
    store: Store | None = None,
    collect: bool = True,
    deliver: bool = True,
    post: bool = True,
    renderer: Renderer | None = None,
) -> RunReport:
    from digest.pipeline import run_newsletter

    return run_newsletter(
        settings,
        newsletter_id,
        now=now,
        period=period,
        store=store,
        collect=collect,
        deliver=deliver,
        post=post,
        renderer=renderer,
    )


def runner_with(renderer: Renderer, **fixed: Any) -> Runner:
    """default_runner with one Renderer for every run (and ``fixed`` keyword arguments,
    such as ``collect=False``): templates compile once, not once per run."""

    def runner(*args: Any, **kwargs: Any) -> RunReport:
        return default_runner(*args, **{**kwargs, **fixed, "renderer": renderer})

    return runner


def system_clock() -> datetime:
    return datetime.now(UTC)


def clock_from(start: datetime) -> Clock:
    """A clock reading ``start`` plus the real time elapsed since (for --at and tests)."""
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_period` did.

    ``outcome`` is one of: succeeded, failed, already_done, claimed_elsewhere,
    awaiting_approval, held.
    """

    outcome: str
    newsletter: str
    period_key: str
    record: RunRecord | None = None

    @property
    def status(self) -> str | None:
        return self.record.status if self.record else None


@dataclass(frozen=True)
class _Plan:
    """One phase of a run: what to ask the runner for and which rows it may take over."""

    phase: str  # prepare | send
    takeover: tuple[str, ...]
    collect: bool
    deliver: bool
    post: bool


PREPARE = _Plan("prepare", ("failed",), collect=True, deliver=False, post=False)
SEND = _Plan("send", ("failed",), collect=True, deliver=True, post=True)
# An approved edition is frozen: sending it needs no fresh collect.
SEND_APPROVED = _Plan(
    "send", ("awaiting_approval", "held", "failed"), collect=False, deliver=True, post=True
)


def run_period(
    settings: Settings,
    store: Store,
    newsletter_id: str,
    fire_time: datetime,
    *,
    now: datetime,
    runner: Runner | None = None,
    clock: Clock | None = None,
) -> RunResult:
    """Run (or resume) the period whose scheduled send time is ``fire_time``, at most once."""
    newsletter = settings.newsletters[newsletter_id]
    period = period_ending(fire_time, newsletter.period, newsletter.timezone)
    context = _Context(
        settings,
        store,
        newsletter_id,
        period,
        fire_time,
        now,
        runner or default_runner,
        clock or clock_from(now),
    )
    existing = ledger.get(store, newsletter_id, period.key)
    if existing is not None and existing.status in FINISHED:
        return context.result("already_done", existing)
    if existing is not None and existing.status == "sending":
        return context.resume_sending(existing)
    if newsletter.approval is None:
        return context.execute(SEND)
    return _run_with_approval(context, existing)


def _run_with_approval(context: _Context, existing: RunRecord | None) -> RunResult:
    unprepared = existing is None or (
        existing.phase == "prepare" and existing.status in ("running", "failed")
    )
    if unprepared:
        prepared = context.execute(PREPARE)
        if prepared.outcome != "awaiting_approval":
            return prepared
        existing = prepared.record
    assert existing is not None
    if context.now < context.fire_time:
        return context.result("awaiting_approval", existing)
    return _send_if_approved(context, existing)


def _send_if_approved(context: _Context, record: RunRecord) -> RunResult:
    settings, store = context.settings, context.store
    policy = settings.newsletters[context.newsletter].approval
    assert policy is not None
    status = approval.edition_status(store, record.edition_id) if record.edition_id else None
    if status == "held" or (status == "draft" and policy.on_timeout == "hold"):
        reason = (
            "held by " + _approved_by(store, record.edition_id)
            if status == "held"
            else "not approved by the send time (on_timeout: hold)"
        )
        return context.hold(record, reason)
    if status == "draft":  # on_timeout: send
        assert record.edition_id is not None
        approval.approve(settings, store, record.edition_id, by="on_timeout", now=context.now)
    return context.execute(SEND_APPROVED)


def _approved_by(store: Store, edition_id: int | None) -> str:
    with store.session() as session:
        by = session.scalar(select(EditionRow.approved_by).where(EditionRow.id == edition_id))
    return by or "a reviewer"


class _Context:
    """Everything one call of run_period works with."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        newsletter: str,
        period: Period,
        fire_time: datetime,
        now: datetime,
        runner: Runner,
        clock: Clock,
    ) -> None:
        self.settings, self.store, self.newsletter = settings, store, newsletter
        self.period, self.fire_time, self.now = period, fire_time, now
        self.runner, self.clock = runner, clock

    def result(self, outcome: str, record: RunRecord | None = None) -> RunResult:
        if record is None:
            record = ledger.get(self.store, self.newsletter, self.period.key)
        return RunResult(outcome, self.newsletter, self.period.key, record)

    def execute(self, plan: _Plan) -> RunResult:
        owner = ledger.new_owner()
        record = ledger.claim(
            self.store,
            self.newsletter,
            self.period.key,
            self.fire_time,
            now=self.now,
            owner=owner,
            phase=plan.phase,
            takeover=plan.takeover,
        )
        if record is None:
            event(log, "run.claimed_elsewhere", newsletter=self.newsletter, period=self.period.key)
            return self.result("claimed_elsewhere")
        with run_context(record.id):
            return self._execute_claimed(plan, record, owner)

    def _execute_claimed(self, plan: _Plan, record: RunRecord, owner: str) -> RunResult:
        event(
            log,
            "run.started",
            newsletter=self.newsletter,
            period=self.period.key,
            phase=plan.phase,
            attempt=record.attempts,
            resumed=record.attempts > 1,
        )
        try:
            with ledger.heartbeat(self.store, record.id, owner, self.clock):
                report = self.runner(
                    self.settings,
                    self.newsletter,
                    now=self.now,
                    period=self.period,
                    store=self.store,
                    collect=plan.collect,
                    deliver=plan.deliver,
                    post=plan.post,
                )
        except SendStopped:
            # Stopped by SIGTERM while sending: in-flight copies are recorded; the row
            # stays 'running' and is resumed later, like after a kill.
            ledger.release(owner)
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.error("event=run.crashed newsletter=%s", self.newsletter, exc_info=True)
            return self._fail(record, owner, error, None)
        except BaseException:
            # Killed (SIGINT, SystemExit): the row stays 'running' and is resumed later.
            ledger.release(owner)
            raise
        problems = run_problems(report, plan.deliver)
        if problems:
            return self._fail(record, owner, "; ".join(problems), report.to_dict())
        return self._succeed(plan, record, owner, report)

    def _succeed(self, plan: _Plan, record: RunRecord, owner: str, report: RunReport) -> RunResult:
        edition_id = self.edition_id()
        status = "succeeded"
        if plan.deliver and report.deferred and edition_id is not None:
            # offered to everyone; deferred copies are retried by the delivery sweep
            status = "sending"
            notify_deferred(self.settings, self.store, edition_id, self.clock())
        if plan.phase == "prepare" and edition_id is not None:
            status = "awaiting_approval"
            try:
                approval.request_approval(
                    self.settings, self.store, self.newsletter, edition_id, self.fire_time
                )
            except NoticeError as exc:
                report.warn(f"approval preview not sent: {exc}")
        ledger.finish(
            self.store,
            record.id,
            status,
            now=self.clock(),
            report=report.to_dict(),
            edition_id=edition_id,
            owner=owner,
        )
        done = ledger.get_by_id(self.store, record.id)
        event(
            log,
            "run.finished",
            newsletter=self.newsletter,
            period=self.period.key,
            status=status,
            edition=edition_id,
            sent=report.sent,
            posts=report.posts,
            seconds=_seconds(done),
        )
        return self.result(status, done)

    def _fail(
        self, record: RunRecord, owner: str, error: str, report: dict[str, Any] | None
    ) -> RunResult:
        error = redact_addresses(error)  # stored, logged and mailed: no subscriber in it
        edition_id = self.edition_id()
        ledger.finish(
            self.store,
            record.id,
            "failed",
            now=self.clock(),
            report=report,
            error=error,
            edition_id=edition_id,
            owner=owner,
        )
        event(
            log,
            "run.failed",
            logging.ERROR,
            newsletter=self.newsletter,
            period=self.period.key,
            error=error,
        )
        notify_failure(
            self.settings,
            self.store,
            newsletter=self.newsletter,
            run_id=record.id,
            period_key=self.period.key,
            error=error,
            edition_id=edition_id,
            report=report,
        )
        return self.result("failed")

    def resume_sending(self, record: RunRecord) -> RunResult:
        """The run is done but for deferred copies: retry what is due, settle if done."""
        from digest.schedule.retries import settle_run

        assert record.edition_id is not None
        report = RunReport(newsletter=self.newsletter)
        send_edition(self.settings, self.store, record.edition_id, report, now=self.now)
        if report.deferred:
            notify_deferred(self.settings, self.store, record.edition_id, self.clock())
        else:
            settle_run(self.settings, self.store, record.edition_id, report, self.clock())
        done = ledger.get_by_id(self.store, record.id)
        return self.result(done.status if done else "sending", done)

    def hold(self, record: RunRecord, reason: str) -> RunResult:
        """Keep an unapproved edition back; tell staff once, when the run first becomes held."""
        if record.status == "held":
            return self.result("held", record)
        if ledger.mark(
            self.store, record.id, "held", now=self.clock(), error=reason, from_status=record.status
        ):
            event(
                log,
                "run.held",
                logging.WARNING,
                newsletter=self.newsletter,
                period=self.period.key,
                reason=reason,
            )
            self._tell_staff_held(record, reason)
        return self.result("held")

    def _tell_staff_held(self, record: RunRecord, reason: str) -> None:
        staff = self.settings.organization.staff_email
        if not staff:
            return
        title = self.settings.newsletters[self.newsletter].title
        text = (
            f"'{title}' for the period ending {self.period.key} was not sent: {reason}.\n"
            f"Approve it with: digest approve {self.newsletter} --edition "
            f"{record.edition_id}\nIt is then sent at once (nothing is sent twice)."
        )
        try:
            send_notice(
                self.settings,
                staff,
                f"[digest] Held: {title} ({self.period.key})",
                text,
                newsletter=self.newsletter,
            )
        except NoticeError as exc:
            event(log, "notice.failed", logging.ERROR, error=str(exc))

    def edition_id(self) -> int | None:
        with self.store.session() as session:
            return session.scalar(
                select(EditionRow.id).where(
                    EditionRow.newsletter == self.newsletter,
                    EditionRow.period_key == self.period.key,
                )
            )


def run_problems(report: RunReport, delivering: bool) -> list[str]:
    """Outcomes that make a run 'failed' (and retried) even though nothing raised."""
    problems: list[str] = []
    if report.sources_failed and not report.sources_read:
        problems.append(f"no sources reachable ({report.sources_failed} failed)")
    if delivering and report.failed:
        problems.append(f"{report.failed} email(s) failed")
    return problems


def _seconds(record: RunRecord | None) -> float | None:
    duration = record.duration if record else None
    return round(duration.total_seconds(), 3) if duration is not None else None
