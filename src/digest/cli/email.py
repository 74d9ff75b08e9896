"""`digest send NEWSLETTER [--test ADDR] [--edition ID]` and `digest bounces`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from digest.cli.app import app, console, require_signing_key, settings_from, user_errors
from digest.errors import DigestError
from digest.models import RunReport

if TYPE_CHECKING:
    from digest.bounces import BounceReport
    from digest.delivery.sender import ProgressHook, SendProgress
    from digest.store import Store


def _edition_id(store: Store, newsletter: str, edition: int | None) -> int:
    from sqlalchemy import select

    from digest.store.tables import EditionRow

    with store.session() as session:
        if edition is not None:
            row = session.get(EditionRow, edition)
            if row is None or row.newsletter != newsletter:
                raise DigestError(f"edition {edition} of '{newsletter}' does not exist")
            return row.id
        latest = session.scalars(
            select(EditionRow.id)
            .where(EditionRow.newsletter == newsletter)
            .order_by(EditionRow.period_end.desc(), EditionRow.id.desc())
        ).first()
    if latest is None:
        raise DigestError(f"'{newsletter}' has no edition yet; build one first")
    return latest


@contextmanager
def progress_bar() -> Iterator[ProgressHook | None]:
    """A bar with rate and ETA for a send on an interactive terminal; none otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    task = bar.add_task("sending", total=None, rate="")

    def draw(progress: SendProgress) -> None:
        rate = progress.settled_now / max(1e-6, progress.seconds)
        shown = f"{rate:,.0f} msg/s" if progress.settled_now else ""
        bar.update(task, total=progress.total, completed=progress.done, rate=shown)

    with bar:
        yield draw


@app.command("send")
@user_errors
def send(
    ctx: typer.Context,
    newsletter: str = typer.Argument(..., help="Newsletter id from config.yaml."),
    test: list[str] = typer.Option([], "--test", help="Send one [TEST] copy here instead."),
    edition: int = typer.Option(None, "--edition", help="Edition id (default: the latest)."),
    channel: str = typer.Option(None, "--channel", help="Email channel to use."),
    linger: float = typer.Option(
        None,
        "--linger",
        help="Seconds to stay and retry deferred copies that come due (default: 60, "
        "or twice the channel's retry_delay). Later retries are left to 'digest schedule'.",
    ),
) -> None:
    """Send an edition to its subscribers (resumes where a stopped send left off).

    Several 'digest send' processes may share one edition (each claims its own copies).
    Exits 1 when copies are left pending.
    """
    from digest.delivery import send_edition, send_test
    from digest.delivery.sender import SendStopped
    from digest.notify import notify_deferred
    from digest.store import open_store

    settings = settings_from(ctx)
    require_signing_key(settings, "send")
    if newsletter not in settings.newsletters:
        raise DigestError(
            f"unknown newsletter '{newsletter}' (known: {list(settings.newsletters)})"
        )
    store = open_store(settings.store.url)
    edition_id = _edition_id(store, newsletter, edition)
    if test:
        outcome = send_test(settings, store, edition_id, test, channel=channel)
        for address, reply in outcome.items():
            console.print(f"test copy of edition {edition_id} to {address}: {reply}", markup=False)
        if any(not reply.startswith("2") for reply in outcome.values()):
            raise typer.Exit(1)
        return
    report = RunReport(newsletter=newsletter)
    started = datetime.now(UTC)
    try:
        with progress_bar() as on_progress:
            send_edition(
                settings,
                store,
                edition_id,
                report,
                channel=channel,
                linger=linger,
                on_progress=on_progress,
            )
    except SendStopped as exc:
        _print_send(edition_id, report, started)
        raise DigestError(str(exc)) from None
    _print_send(edition_id, report, started)
    if report.deferred:
        console.print(
            f"[yellow]{report.deferred} copies are still pending[/] (deferred by their "
            "servers, or being sent by another worker): 'digest schedule' retries them until "
            f"the edition's deadline, or run 'digest send {newsletter} --edition "
            f"{edition_id}' again."
        )
        notify_deferred(settings, store, edition_id, datetime.now(UTC))
    if report.deferred or any("paused" in w for w in report.warnings):
        raise typer.Exit(1)


def _print_send(edition_id: int, report: RunReport, started: datetime) -> None:
    seconds = (datetime.now(UTC) - started).total_seconds()
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(
        f"edition {edition_id}: {report.recipients} recipients, {report.sent} sent, "
        f"{report.deferred} pending, {report.failed} failed, {report.suppressed} suppressed "
        f"in {seconds:.1f}s"
    )


@app.command("bounces")
@user_errors
def bounces(
    ctx: typer.Context,
    maildir: Path = typer.Option(None, "--maildir", help="Maildir holding bounces/complaints."),
    imap_host: str = typer.Option(None, "--imap", help="IMAP host (TLS, port 993)."),
    imap_port: int = typer.Option(993, "--imap-port"),
    imap_folder: str = typer.Option("INBOX", "--imap-folder"),
    imap_user_env: str = typer.Option(
        "DIGEST_IMAP_USER", "--imap-user-env", help="Environment variable holding the IMAP user."
    ),
    imap_password_env: str = typer.Option(
        "DIGEST_IMAP_PASSWORD",
        "--imap-password-env",
        help="Environment variable holding the password.",
    ),
) -> None:
    """Read DSN bounces and ARF complaints; suppress bounced and complaining addresses."""
    from digest.bounces import read_imap, read_maildir
    from digest.store import open_store

    if (maildir is None) == (imap_host is None):
        raise DigestError("give exactly one of --maildir PATH or --imap HOST")
    settings = settings_from(ctx)
    require_signing_key(settings, "bounces")
    store = open_store(settings.store.url)
    now = datetime.now(UTC)
    with store.session() as session:
        if maildir is not None:
            result = read_maildir(session, maildir, now, verp_secret=settings.signing_keys())
        else:
            user, password = os.environ.get(imap_user_env), os.environ.get(imap_password_env)
            if not user or not password:
                raise DigestError(f"set {imap_user_env} and {imap_password_env} for IMAP")
            result = read_imap(
                session,
                imap_host,
                user,
                password,
                now,
                port=imap_port,
                folder=imap_folder,
                verp_secret=settings.signing_keys(),
            )
    _print_bounces(result)


def _print_bounces(result: BounceReport) -> None:
    console.print(
        f"{result.messages} messages: {len(result.bounced)} bounced, "
        f"{len(result.complained)} complaints, {len(result.ignored)} left unchanged"
    )
    for address in result.bounced:
        console.print(f"  bounced (suppressed): {address}", markup=False)
    for address in result.complained:
        console.print(f"  complained (suppressed, unsubscribed): {address}", markup=False)
    for note in result.ignored:
        console.print(f"  unchanged: {note}", markup=False)
