"""Send an edition to its frozen audience, once per subscriber, resumably, by N workers.

Each worker slot (one per SMTP connection) takes one claimed copy at a time from the
ledger, sends it, and has its outcome recorded before it gets the next one. Temporary
failures of any kind (4xx, lost connections, a full disk, a busy database) leave the copy
pending with a backoff until the edition's deadline; SIGTERM and Ctrl-C finish the
copies in flight, record them and stop.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from digest import lifecycle
from digest.channels.maildir import MaildirTransport
from digest.channels.replies import Reply, Verdict, classify
from digest.channels.smtp import SmtpTransport
from digest.config import MaildirChannel, Settings, SmtpChannel
from digest.delivery import ledger, tokens
from digest.delivery.message import EditionContent, MessageTemplate, Outgoing
from digest.delivery.ratelimit import RateLimiter
from digest.delivery.transport import Transport
from digest.errors import DigestError
from digest.lifecycle import EditionStatus
from digest.models import RunReport
from digest.reach import tracked_html
from digest.store import Store, lease
from digest.store.db import SQLITE_BUSY_TIMEOUT_MS
from digest.store.tables import EditionRow
from digest.subscribers import normalize_email

T = TypeVar("T")
EmailChannel = MaildirChannel | SmtpChannel
MAILDIR_RETRY = 5.0
MAILDIR_MAX_RETRY = 600.0
MAILDIR_HOLD = timedelta(seconds=60)
DEFAULT_LINGER = 60.0
MAX_SLEEP = 20.0  # wake at least this often while waiting for retries, to renew the lease


class Clock:
    """``now`` (or the wall clock) moving forward with real time."""

    def __init__(self, start: datetime | None) -> None:
        self.start = start or datetime.now(UTC)
        self.t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


def email_channel(
    settings: Settings, newsletter: str, override: str | None
) -> tuple[str, EmailChannel]:
    """The newsletter's email channel, or the embedded Maildir outbox when none is set."""
    if override is not None:
        config = settings.channels.get(override)
        if not isinstance(config, MaildirChannel | SmtpChannel):
            known = [n for n, c in settings.channels.items() if isinstance(c, EmailChannel)]
            raise DigestError(f"channel '{override}' is not an email channel (known: {known})")
        return override, config
    names = settings.newsletters[newsletter].channels if newsletter in settings.newsletters else ()
    for name in names:
        config = settings.channels.get(name)
        if isinstance(config, MaildirChannel | SmtpChannel):
            return name, config
    return "outbox", MaildirChannel(type="maildir")


def make_transport(settings: Settings, config: EmailChannel) -> Transport:
    if isinstance(config, SmtpChannel):
        if config.ca_file is not None:  # relative to the config file, like every path
            config = config.model_copy(update={"ca_file": settings.resolve_path(config.ca_file)})
        return SmtpTransport(config)
    return MaildirTransport(settings.resolve_path(Path(config.path)))


def verp_token(settings: Settings, edition_id: int, subscriber_id: int) -> str:
    """``E.S.SIG``: names the delivery in a bounce address and cannot be forged."""
    return tokens.verp_token(settings.signing_secret(), edition_id, subscriber_id)


def envelope_sender(
    settings: Settings, config: EmailChannel, edition_id: int, subscriber_id: int
) -> str:
    return_path = config.return_path if isinstance(config, SmtpChannel) else None
    if not return_path:
        return settings.organization.sender.email
    if "{token}" in return_path:
        return return_path.replace("{token}", verp_token(settings, edition_id, subscriber_id))
    return return_path


STOP = threading.Event()  # set by SIGTERM / Ctrl-C or the scheduler: finish in-flight, stop
DB_BUSY_PATIENCE = 300.0  # seconds to keep retrying a busy database before giving up
OTHERS_POLL = 0.2  # seconds between looks at copies other workers hold
RELEASE_EVERY = 30.0  # seconds between looks for claims abandoned by dead workers


class SendStopped(DigestError):
    """A signal stopped the send: the copies in flight were recorded, the rest wait."""


def request_stop() -> None:
    """Ask every send in this process to finish its in-flight copies and stop."""
    STOP.set()


@dataclass(frozen=True)
class SendProgress:
    """How far a send has got, reported as copies are settled for the caller to show
    (``digest send`` draws a progress bar from it; delivery itself draws nothing)."""

    total: int  # the edition's ledger rows
    done: int  # rows no longer pending
    settled_now: int  # rows this call has settled so far
    seconds: float  # since this call began sending


ProgressHook = Callable[[SendProgress], None]


@dataclass
class SendRun:
    settings: Settings
    store: Store
    content: EditionContent
    config: EmailChannel
    transport: Transport
    clock: Clock
    owner: str
    template: MessageTemplate
    limiter: RateLimiter
    retry_delay: float
    max_retry_delay: float
    hold: timedelta  # how long a claim lasts (longer than one SMTP transaction can take)
    linger: float  # wait in this process for retries due within this many seconds
    started: datetime  # when the edition began sending: retries back off with its age
    paused: str | None = None
    progress: _Tally | None = field(default=None)

    def backoff(self) -> timedelta:
        """Postfix's rule: wait about as long as the edition has been sending, bounded."""
        age = (self.clock() - self.started).total_seconds()
        return timedelta(seconds=min(self.max_retry_delay, max(self.retry_delay, age)))

    def commit(self, outcomes: list[ledger.Outcome], want: int) -> list[ledger.Claimed]:
        """Record finished copies and claim the next ``want`` in one transaction."""
        parts = self.template.message_id_parts()
        edition_id = self.content.id

        def work(connection: Connection) -> list[ledger.Claimed]:
            if connection.dialect.name == "postgresql":
                # No wait for the WAL flush: only a crash of the database server itself
                # could undo these last commits, and an undone claim or "sent" only
                # means a copy sent again, never one lost.
                connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
            now = self.clock()
            if outcomes:
                ledger.record(connection, edition_id, self.owner, outcomes, now, parts)
            return ledger.claim(
                connection, edition_id, self.content.list_name, self.owner, now, want, self.hold
            )

        return in_transaction(self.store, work, core=True)


R = TypeVar("R")


def in_transaction(store: Store, work: Callable[[Any], R], *, core: bool = False) -> R:
    """Run ``work`` in one transaction, waiting out a busy database (it is temporary).

    ``core`` passes a plain Connection instead of an ORM Session (the hot path).
    """
    waited = 0.0
    while True:
        try:
            if core:
                with store.engine.begin() as connection:
                    return work(connection)
            with store.session() as session:
                return work(session)
        except OperationalError as exc:
            if not _is_busy(exc) or waited >= DB_BUSY_PATIENCE:
                raise
            time.sleep(1.0)
            waited += 1.0 + SQLITE_BUSY_TIMEOUT_MS / 1000


def _is_busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text or "could not serialize" in text


def send_edition(
    settings: Settings,
    store: Store,
    edition_id: int,
    report: RunReport,
    *,
    channel: str | None = None,
    now: datetime | None = None,
    linger: float | None = None,
    on_progress: ProgressHook | None = None,
) -> None:
    """Deliver the edition's due ledger rows; see the module docs.

    Deferred copies due within ``linger`` seconds are retried before returning; the
    rest stay pending for the next ``digest send`` or the scheduler. Several processes
    may run this for one edition at once: each claims its own copies. ``on_progress``
    is called with a SendProgress when sending starts and as copies are settled.
    """
    clock = Clock(now)
    if threading.current_thread() is threading.main_thread():
        # A stop asked of an earlier send in this process is not this one's (in the
        # main thread signals reach STOP only while a send runs; the scheduler's
        # threads keep theirs until the daemon ends).
        STOP.clear()
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        if row is None:
            raise DigestError(f"edition {edition_id} does not exist")
        if row.status == "held":
            raise DigestError(f"edition {edition_id} is held for approval; approve it first")
        newsletter = row.newsletter
    _, config = email_channel(settings, newsletter, channel)
    owner = lease.new_owner()
    try:
        with _database_errors(edition_id):
            content, started = _prepare(settings, store, edition_id, config, clock, report)
            run = _make_run(settings, store, content, config, clock, owner, started, linger)
            if run is not None:
                run.progress = _Tally.start(run, on_progress) if on_progress else None
                run_coroutine(_deliver(run))
                _finish(store, run, report)
            _report_counts(store, edition_id, report, clock)
    finally:
        _release_quietly(store, edition_id, owner)
    if STOP.is_set():
        raise SendStopped(
            f"edition {edition_id}: stopped; the copies in flight were recorded, "
            f"{report.deferred} left pending. Run 'digest send {newsletter} --edition "
            f"{edition_id}' to resume."
        )


@contextmanager
def _database_errors(edition_id: int) -> Iterator[None]:
    """A database failure is one clear line; claims left behind expire with their lease."""
    try:
        yield
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DigestError(
            f"edition {edition_id}: database error while sending: {reason}. Nothing was "
            "lost: copies not recorded as sent are sent by the next 'digest send'."
        ) from None


def _release_quietly(store: Store, edition_id: int, owner: str) -> None:
    try:
        with store.session() as session:
            ledger.release_claims(session, edition_id, owner)
    except DBAPIError:
        pass  # the claims expire with their lease


def _prepare(
    settings: Settings,
    store: Store,
    edition_id: int,
    config: EmailChannel,
    clock: Clock,
    report: RunReport,
) -> tuple[EditionContent, datetime]:
    def work(session: Session) -> tuple[EditionContent, datetime]:
        # FOR UPDATE: workers starting together freeze the audience once (PostgreSQL;
        # SQLite's BEGIN IMMEDIATE already serializes them)
        row = session.get(EditionRow, edition_id, with_for_update=True)
        assert row is not None
        list_name = settings.audience_of(row.newsletter)
        now = clock()
        ledger.freeze_audience(session, row, list_name, now, config.give_up_after)
        _start_sending(session, row, now, config)
        ledger.expire_overdue(session, edition_id, now)  # past the deadline: no more tries
        recovered = ledger.release_abandoned(session, edition_id, now)
        if recovered:
            report.warn(
                f"edition {edition_id}: {recovered} messages were in flight when a "
                "sender stopped; they are sent again (they may arrive twice)"
            )
        if row.status == "paused":
            report.warn(f"edition {edition_id}: resuming after pause ({row.pause_reason})")
            lifecycle.transition(session, row, EditionStatus.SENDING, actor="sender", now=clock())
            row.pause_reason = None
        content = EditionContent(
            id=row.id,
            newsletter=row.newsletter,
            list_name=list_name,
            subject=row.subject,
            html=tracked_html(settings, session, row),
            text=row.text,
            created_at=row.created_at,
            markers=row.markers,
        )
        return content, row.send_started_at or now

    return in_transaction(store, work)


# The edition's lifecycle transitions this module makes (the lifecycle module owns the
# states): approved → sending when the audience is frozen, sending → sent once every
# recipient is settled.


def _start_sending(session: Session, row: EditionRow, now: datetime, config: EmailChannel) -> None:
    if row.status == EditionStatus.APPROVED.value:  # freeze_audience made no rows (resumed)
        lifecycle.transition(session, row, EditionStatus.SENDING, actor="sender", now=now)
    if row.deliver_until is None:  # an edition from before deadlines existed
        row.deliver_until = now + config.give_up_after


def _settle(session: Session, row: EditionRow, now: datetime) -> None:
    if row.status == EditionStatus.SENDING.value:
        lifecycle.transition(session, row, EditionStatus.SENT, actor="sender", now=now)


def _make_run(
    settings: Settings,
    store: Store,
    content: EditionContent,
    config: EmailChannel,
    clock: Clock,
    owner: str,
    started: datetime,
    linger: float | None,
) -> SendRun | None:
    with store.session() as session:
        if ledger.next_due(session, content.id) is None:
            return None  # nothing left to send
    smtp = config if isinstance(config, SmtpChannel) else None
    retry_delay = smtp.retry_delay if smtp else MAILDIR_RETRY
    return SendRun(
        settings=settings,
        store=store,
        content=content,
        config=config,
        transport=make_transport(settings, config),
        clock=clock,
        owner=owner,
        template=MessageTemplate(settings, content),
        limiter=RateLimiter(
            smtp.rate_per_second if smtp else None, smtp.rate_per_hour if smtp else None
        ),
        retry_delay=retry_delay,
        max_retry_delay=smtp.max_retry_delay if smtp else MAILDIR_MAX_RETRY,
        hold=timedelta(seconds=3 * smtp.timeout + 30) if smtp else MAILDIR_HOLD,
        linger=linger if linger is not None else max(DEFAULT_LINGER, 2 * retry_delay),
        started=started,
    )


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also from code that is itself inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="digest-send")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


async def _deliver(run: SendRun) -> None:
    await run.transport.open()
    with _stop_on_signals():
        try:
            await _deliver_rounds(run)
        finally:
            await run.transport.close()


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM and Ctrl-C finish the copies in flight, record them and stop (main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # a scheduler thread: the daemon calls request_stop() itself
        return
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, STOP.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):
            continue
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def _deliver_rounds(run: SendRun) -> None:
    """Rounds of workers until nothing is due soon; between rounds wait for retries."""
    edition_id = run.content.id
    last_release = time.monotonic()
    waited_for_others = 0.0
    linger_until: float | None = None
    while run.paused is None and not STOP.is_set():
        await _round(run)
        if run.paused is not None or STOP.is_set():
            return

        def look(session: Session) -> datetime | None:
            ledger.expire_overdue(session, edition_id, run.clock())
            return ledger.next_due(session, edition_id)

        due = in_transaction(run.store, look)
        if due is None:
            if not _others_in_flight(run, waited_for_others):
                return
            waited_for_others += OTHERS_POLL
            await _sleep_unless_stopped(OTHERS_POLL)
            continue
        wait = (due - run.clock()).total_seconds()
        if linger_until is None:
            linger_until = time.monotonic() + run.linger  # from the first deferral on
        if time.monotonic() + max(0.0, wait) > linger_until:
            return  # later retries are the next run's (or the scheduler's) job
        await _sleep_unless_stopped(min(MAX_SLEEP, max(0.0, wait)))
        if time.monotonic() - last_release > RELEASE_EVERY:
            last_release = time.monotonic()
            in_transaction(
                run.store, lambda s: ledger.release_abandoned(s, edition_id, run.clock())
            )


def _others_in_flight(run: SendRun, waited: float) -> bool:
    """Other workers still hold copies: wait (up to linger) to see them settled or freed."""
    if waited >= run.linger:
        return False
    edition_id = run.content.id

    def look(session: Session) -> int:
        # released copies of a dead worker are due now: the next round sends them
        released = ledger.release_abandoned(session, edition_id, run.clock())
        return released + ledger.in_flight_elsewhere(session, edition_id, run.owner)

    return in_transaction(run.store, look) > 0


async def _sleep_unless_stopped(seconds: float) -> None:
    end = time.monotonic() + seconds
    while not STOP.is_set() and (left := end - time.monotonic()) > 0:
        await asyncio.sleep(min(0.2, left))


async def _round(run: SendRun) -> None:
    dispatcher = _Dispatcher(run)
    results = await asyncio.gather(
        *(_worker(run, dispatcher, slot) for slot in range(run.transport.concurrency)),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result


class _Dispatcher:
    """Hands each worker one claimed copy at a time (group commit).

    A worker returns its last outcome and asks for the next copy. One flusher at a time
    runs the transaction that records the outcomes queued so far and claims the next
    copies, in a thread, so the event loop keeps talking SMTP meanwhile; requests that
    arrive during a flush go into the next one. A worker never holds more than one
    claim, and its copy's outcome is committed before it gets another: after a crash
    at most one copy per connection is resent.
    """

    def __init__(self, run: SendRun) -> None:
        self.run = run
        self.waiting: list[tuple[asyncio.Future[ledger.Claimed | None], bool]] = []
        self.outcomes: list[ledger.Outcome] = []
        self.flusher: asyncio.Task[None] | None = None

    async def next(
        self, outcome: ledger.Outcome | None, want: bool = True
    ) -> ledger.Claimed | None:
        loop = asyncio.get_running_loop()
        if outcome is not None:
            self.outcomes.append(outcome)
        future: asyncio.Future[ledger.Claimed | None] = loop.create_future()
        self.waiting.append((future, want))
        if self.flusher is None:
            self.flusher = asyncio.create_task(self._flush_all())
        return await future

    async def _flush_all(self) -> None:
        try:
            await asyncio.sleep(0)  # let the other replies of this loop turn join in
            while self.waiting:
                await self._flush()
        finally:
            self.flusher = None

    async def _flush(self) -> None:
        waiting, self.waiting = self.waiting, []
        outcomes, self.outcomes = self.outcomes, []
        stopping = STOP.is_set() or self.run.paused is not None
        wanted = [future for future, want in waiting if want and not stopping]
        try:
            claims = await asyncio.to_thread(self.run.commit, outcomes, len(wanted))
        except BaseException as exc:
            for future, _ in waiting:
                future.set_exception(exc)
            return
        if self.run.progress is not None:
            self.run.progress.advance(sum(o.status != "unattempted" for o in outcomes))
        given = dict(zip(wanted, claims, strict=False))
        for future, _ in waiting:
            future.set_result(given.get(future))


async def _worker(run: SendRun, dispatcher: _Dispatcher, slot: int) -> None:
    outcome: ledger.Outcome | None = None
    limited = bool(run.limiter.buckets)
    while True:
        if limited:  # record before waiting for the rate limit: claims stay short
            if outcome is not None:
                await dispatcher.next(outcome, want=False)
                outcome = None
            await run.limiter.acquire()
        item = await dispatcher.next(outcome)
        if item is None:
            return
        outcome = await _send_one(run, slot, item)


async def _send_one(run: SendRun, slot: int, item: ledger.Claimed) -> ledger.Outcome:
    sid, email = item.subscriber_id, item.email
    if item.excluded:
        return ledger.Outcome(sid, email, "suppressed", error=item.excluded)
    if run.paused is not None or STOP.is_set():
        return ledger.Outcome(sid, email, "unattempted")
    try:
        message: Outgoing = run.template.build(sid, email, item.name, run.clock())
    except DigestError as exc:
        return ledger.Outcome(sid, email, "failed", error=str(exc))
    sender = envelope_sender(run.settings, run.config, run.content.id, sid)
    replies = await run.transport.send(slot, sender, [message.rcpt], message.data, message.stuffed)
    reply = replies[message.rcpt]
    return _outcome(run, item, reply, message.message_id)


def _outcome(run: SendRun, item: ledger.Claimed, reply: Reply, message_id: str) -> ledger.Outcome:
    sid, email = item.subscriber_id, item.email
    verdict = classify(reply)
    answered = reply.stage not in ("connect", "setup")  # only a server's answer counts
    if verdict is Verdict.SENT:
        return ledger.Outcome(sid, email, "sent", True, message_id=message_id)
    if verdict is Verdict.RETRY:
        retry_at = run.clock() + run.backoff()
        return ledger.Outcome(sid, email, "pending", answered, error=str(reply), retry_at=retry_at)
    if verdict is Verdict.SUPPRESS:
        return ledger.Outcome(sid, email, "suppressed", True, error=str(reply))
    if verdict is Verdict.PAUSE:
        run.paused = run.paused or f"{reply} (while sending to subscriber {sid})"
        return ledger.Outcome(sid, email, "unattempted")
    return ledger.Outcome(sid, email, "failed", True, error=str(reply))


def _finish(store: Store, run: SendRun, report: RunReport) -> None:
    with store.session() as session:
        row = session.get(EditionRow, run.content.id)
        assert row is not None
        if run.paused is not None:
            lifecycle.transition(
                session,
                row,
                EditionStatus.PAUSED,
                actor="sender",
                now=run.clock(),
                detail=run.paused,
            )
            row.pause_reason = run.paused
            report.warn(
                f"edition {row.id} paused: {run.paused}. Nobody was suppressed; fix the "
                "sender setup (policy, sender address, TLS, credentials) and run "
                "'digest send' again."
            )


def _report_counts(store: Store, edition_id: int, report: RunReport, clock: Clock) -> None:
    def work(session: Session) -> dict[str, int]:
        ledger.expire_overdue(session, edition_id, clock())
        counts = ledger.counts(session, edition_id)
        row = session.get(EditionRow, edition_id)
        assert row is not None
        if not any(counts.get(s, 0) for s in ledger.UNSETTLED):
            _settle(session, row, clock())
        return counts

    counts = in_transaction(store, work)
    report.recipients = sum(counts.values())
    report.sent = counts.get("sent", 0)
    report.deferred = counts.get("pending", 0) + counts.get("sending", 0)
    report.failed = counts.get("failed", 0)
    report.suppressed = counts.get("suppressed", 0)


class _Tally:
    """Counts what a send has settled and reports it to the caller's hook."""

    def __init__(self, hook: ProgressHook, total: int, done: int) -> None:
        self.hook = hook
        self.total = total
        self.done = done
        self.settled = 0
        self.started = time.monotonic()

    @classmethod
    def start(cls, run: SendRun, hook: ProgressHook) -> _Tally:
        with run.store.session() as session:
            counts = ledger.counts(session, run.content.id)
        total = sum(counts.values())
        tally = cls(hook, total, total - counts.get("pending", 0))
        tally.advance(0)
        return tally

    def advance(self, n: int) -> None:
        self.done += n
        self.settled += n
        seconds = time.monotonic() - self.started
        self.hook(SendProgress(self.total, self.done, self.settled, seconds))


def send_test(
    settings: Settings,
    store: Store,
    edition_id: int,
    address: str | Sequence[str],
    *,
    channel: str | None = None,
) -> dict[str, str]:
    """One copy to staff before the real send: no ledger rows, subject marked [TEST].

    With several addresses the copy goes out once with every address as a recipient;
    a recipient refused with a 4xx is retried alone. Returns each address's outcome.
    """
    addresses = [normalize_email(a) for a in ([address] if isinstance(address, str) else address)]
    if not addresses:
        raise DigestError("give at least one address for the test copy")
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        if row is None:
            raise DigestError(f"edition {edition_id} does not exist")
        content = EditionContent(
            id=row.id,
            newsletter=row.newsletter,
            list_name=settings.audience_of(row.newsletter),
            subject=f"[TEST] {row.subject}",
            html=row.html,
            text=row.text,
            created_at=row.created_at,
            markers=row.markers,
        )
    _, config = email_channel(settings, content.newsletter, channel)
    template = MessageTemplate(settings, content)
    message = template.build(0, ", ".join(addresses), None, datetime.now(UTC))
    return run_coroutine(_send_test(settings, config, addresses, message.data))


async def _send_test(
    settings: Settings, config: EmailChannel, addresses: list[str], data: bytes
) -> dict[str, str]:
    transport = make_transport(settings, config)
    await transport.open()
    outcome: dict[str, str] = {}
    remaining = addresses
    try:
        for attempt in range(3):
            if attempt:
                await asyncio.sleep(min(2.0, 0.5 * 2**attempt))
            replies = await transport.send(0, settings.organization.sender.email, remaining, data)
            outcome.update({rcpt: str(reply) for rcpt, reply in replies.items()})
            remaining = [r for r, reply in replies.items() if classify(reply) is Verdict.RETRY]
            if not remaining:
                break
    finally:
        await transport.close()
    return outcome
