"""Send an edition to its frozen audience, exactly once per subscriber, resumably."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from digest.channels.maildir import MaildirTransport
from digest.channels.smtp import SmtpTransport
from digest.config import MaildirChannel, Settings, SmtpChannel
from digest.delivery import ledger, tokens
from digest.delivery.message import EditionContent, MessageTemplate, Outgoing
from digest.delivery.ratelimit import RateLimiter
from digest.delivery.replies import Reply, Verdict, classify
from digest.delivery.transport import Transport
from digest.errors import DigestError
from digest.models import RunReport
from digest.reach import tracked_html
from digest.store import Store
from digest.store.tables import EditionRow
from digest.subscribers import normalize_email

T = TypeVar("T")
EmailChannel = MaildirChannel | SmtpChannel
MAILDIR_BATCH = 500
MAILDIR_RETRY = 5.0
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
    batch_size: int
    retry_delay: float
    max_attempts: int
    paused: str | None = None
    done: int = 0
    progress: _Progress | None = field(default=None)


def send_edition(
    settings: Settings,
    store: Store,
    edition_id: int,
    report: RunReport,
    *,
    channel: str | None = None,
    now: datetime | None = None,
) -> None:
    """Deliver every pending ledger row of the edition; see the module docs."""
    clock = Clock(now)
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        if row is None:
            raise DigestError(f"edition {edition_id} does not exist")
        if row.status == "held":
            raise DigestError(f"edition {edition_id} is held for approval; approve it first")
        newsletter = row.newsletter
    _, config = email_channel(settings, newsletter, channel)
    owner = ledger.new_owner()
    ledger.acquire_lock(store, edition_id, owner)
    try:
        content = _prepare(settings, store, edition_id, clock, report)
        run = _make_run(settings, store, content, config, clock, owner)
        if run is not None:
            run_coroutine(_deliver(run))
            _finish(store, run, report)
        _report_counts(store, edition_id, report)
    finally:
        ledger.release_lock(store, edition_id, owner)


def _prepare(
    settings: Settings, store: Store, edition_id: int, clock: Clock, report: RunReport
) -> EditionContent:
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        assert row is not None
        list_name = settings.audience_of(row.newsletter)
        ledger.freeze_audience(session, row, list_name, clock())
        recovered = ledger.recover_in_flight(session, edition_id)
        if recovered:
            report.warn(
                f"edition {edition_id}: {recovered} messages were in flight when the last "
                "sender stopped; they are sent again (some may arrive twice)"
            )
        if row.status == "paused":
            report.warn(f"edition {edition_id}: resuming after pause ({row.pause_reason})")
            row.status, row.pause_reason = "sending", None
        return EditionContent(
            id=row.id,
            newsletter=row.newsletter,
            list_name=list_name,
            subject=row.subject,
            html=tracked_html(settings, session, row),
            text=row.text,
            created_at=row.created_at,
        )


def _make_run(
    settings: Settings,
    store: Store,
    content: EditionContent,
    config: EmailChannel,
    clock: Clock,
    owner: str,
) -> SendRun | None:
    with store.session() as session:
        if ledger.next_due(session, content.id) is None:
            return None  # nothing left to send
    smtp = config if isinstance(config, SmtpChannel) else None
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
        batch_size=smtp.batch_size if smtp else MAILDIR_BATCH,
        retry_delay=smtp.retry_delay if smtp else MAILDIR_RETRY,
        max_attempts=smtp.max_attempts if smtp else 3,
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
    with _Progress.for_run(run) as progress:
        run.progress = progress
        try:
            await _deliver_batches(run)
        finally:
            await run.transport.close()


async def _deliver_batches(run: SendRun) -> None:
    edition_id = run.content.id
    cursor = 0
    while run.paused is None:
        with run.store.session() as session:
            ledger.renew_lock(session, edition_id, run.owner)
            batch = ledger.claim(
                session, edition_id, run.content.list_name, cursor, run.clock(), run.batch_size
            )
        if not batch:
            if cursor:
                cursor = 0  # back to the start for retries that have come due
                continue
            with run.store.session() as session:
                due = ledger.next_due(session, edition_id)
            if due is None:
                return
            await asyncio.sleep(min(MAX_SLEEP, max(0.0, (due - run.clock()).total_seconds())))
            continue
        cursor = batch[-1].subscriber_id
        outcomes = await _send_batch(run, batch)
        with run.store.session() as session:
            parts = run.template.message_id_parts()
            ledger.record(session, edition_id, outcomes, run.clock(), parts)
        if run.progress is not None:
            run.progress.advance(sum(o.status != "pending" for o in outcomes))


async def _send_batch(run: SendRun, batch: list[ledger.Claimed]) -> list[ledger.Outcome]:
    outcomes: list[ledger.Outcome] = []
    items = iter(batch)

    async def worker(slot: int) -> None:
        for item in items:  # one shared iterator: each row goes to exactly one worker
            if run.paused is not None:
                outcomes.append(ledger.Outcome(item.subscriber_id, item.email, "unattempted"))
                continue
            outcomes.append(await _send_one(run, slot, item))

    await asyncio.gather(*(worker(slot) for slot in range(run.transport.concurrency)))
    return outcomes


async def _send_one(run: SendRun, slot: int, item: ledger.Claimed) -> ledger.Outcome:
    sid, email = item.subscriber_id, item.email
    if item.excluded:
        return ledger.Outcome(sid, email, "suppressed", error=item.excluded)
    try:
        message: Outgoing = run.template.build(sid, email, item.name, run.clock())
    except DigestError as exc:
        return ledger.Outcome(sid, email, "failed", error=str(exc))
    await run.limiter.acquire()
    sender = envelope_sender(run.settings, run.config, run.content.id, sid)
    replies = await run.transport.send(slot, sender, [message.rcpt], message.data, message.stuffed)
    reply = replies[message.rcpt]
    return _outcome(run, item, reply, message.message_id)


def _outcome(run: SendRun, item: ledger.Claimed, reply: Reply, message_id: str) -> ledger.Outcome:
    sid, email = item.subscriber_id, item.email
    verdict = classify(reply)
    if verdict is Verdict.SENT:
        return ledger.Outcome(sid, email, "sent", message_id=message_id)
    if verdict is Verdict.RETRY:
        if item.attempts >= run.max_attempts:
            return ledger.Outcome(sid, email, "failed", error=f"gave up after retries: {reply}")
        delay = run.retry_delay * 2 ** (item.attempts - 1)
        retry_at = run.clock() + timedelta(seconds=delay)
        return ledger.Outcome(sid, email, "pending", error=str(reply), retry_at=retry_at)
    if verdict is Verdict.SUPPRESS:
        return ledger.Outcome(sid, email, "suppressed", error=str(reply))
    if verdict is Verdict.PAUSE:
        run.paused = run.paused or f"{reply} (while sending to {email})"
        return ledger.Outcome(sid, email, "unattempted", error=str(reply))
    return ledger.Outcome(sid, email, "failed", error=str(reply))


def _finish(store: Store, run: SendRun, report: RunReport) -> None:
    with store.session() as session:
        row = session.get(EditionRow, run.content.id)
        assert row is not None
        if run.paused is not None:
            row.status, row.pause_reason = "paused", run.paused
            report.warn(
                f"edition {row.id} paused: {run.paused}. Nobody was suppressed; fix the "
                "sender setup (policy, sender address, TLS, credentials) and run "
                "'digest send' again."
            )


def _report_counts(store: Store, edition_id: int, report: RunReport) -> None:
    with store.session() as session:
        counts = ledger.counts(session, edition_id)
        row = session.get(EditionRow, edition_id)
        assert row is not None
        left = counts.get("pending", 0) + counts.get("sending", 0)
        if row.status == "sending" and left == 0:
            row.status = "sent"
            row.sent_at = datetime.now(UTC)
    report.recipients = sum(counts.values())
    report.sent = counts.get("sent", 0)
    report.deferred = left
    report.failed = counts.get("failed", 0)
    report.suppressed = counts.get("suppressed", 0)


class _Progress:
    """A progress bar with rate and ETA on an interactive terminal; silent otherwise."""

    def __init__(self, bar: Progress | None, total: int) -> None:
        self.bar = bar
        self.task = bar.add_task("sending", total=total) if bar is not None else None
        self.started = time.monotonic()
        self.count = 0

    @classmethod
    def for_run(cls, run: SendRun) -> _Progress:
        if not sys.stderr.isatty():
            return cls(None, 0)
        with run.store.session() as session:
            counts = ledger.counts(session, run.content.id)
        total = sum(counts.values())
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        progress = cls(bar, total)
        assert progress.task is not None
        bar.update(progress.task, completed=total - counts.get("pending", 0), rate="")
        return progress

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self, n: int) -> None:
        self.count += n
        if self.bar is None or self.task is None:
            return
        rate = self.count / max(1e-6, time.monotonic() - self.started)
        self.bar.update(self.task, advance=n, rate=f"{rate:,.0f} msg/s")


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
