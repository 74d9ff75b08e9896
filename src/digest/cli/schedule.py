"""Scheduler commands: ``digest schedule``, ``digest runs``, ``digest approve``."""

from __future__ import annotations

import getpass
import logging
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from digest.cli.app import app, console, require_signing_key, settings_from, user_errors
from digest.errors import DigestError

if TYPE_CHECKING:
    from digest.config import Settings
    from digest.schedule.ledger import RunRecord
    from digest.store import Store
    from digest.store.tables import EditionRow

LOG_LEVEL_HELP = "Log level: DEBUG, INFO, WARNING or ERROR (one line per event, on stderr)."


@app.command()
@user_errors
def schedule(
    ctx: typer.Context,
    standby: bool = typer.Option(
        False, "--standby", help="If another scheduler runs on this store, wait and take over."
    ),
    log_level: str = typer.Option("INFO", "--log-level", help=LOG_LEVEL_HELP),
    stop_timeout: float = typer.Option(
        60.0, "--stop-timeout", help="Seconds to let a run in flight finish after SIGTERM."
    ),
) -> None:
    """Run newsletters on their schedules until stopped (SIGTERM/Ctrl-C; SIGHUP reloads)."""
    from digest.logs import configure_logging
    from digest.schedule.daemon import Daemon
    from digest.store import open_store

    settings = settings_from(ctx)
    require_signing_key(settings, "schedule")
    configure_logging(settings, _level(log_level))
    store = open_store(settings.store.url)
    daemon = Daemon(settings, store, config_path=ctx.obj["config_path"], stop_timeout=stop_timeout)
    clean = daemon.run(standby=standby)
    store.dispose()
    if not clean:
        # A run is still in flight: its ledger row stays 'running' and is resumed at the
        # next start. Exit now rather than wait on the worker thread.
        logging.shutdown()
        os._exit(0)


def _level(name: str) -> int:
    level = logging.getLevelName(name.upper())
    if not isinstance(level, int):
        raise DigestError(f"--log-level: '{name}' is not a level (DEBUG, INFO, WARNING, ERROR)")
    return level


@app.command()
@user_errors
def runs(
    ctx: typer.Context,
    newsletter: str | None = typer.Argument(None, help="Only this newsletter."),
    limit: int = typer.Option(20, "--limit", "-n", help="How many past runs to show."),
) -> None:
    """List past runs (status, counts, duration, error) and the upcoming ones."""
    from digest.store import open_store

    settings = settings_from(ctx)
    _check(settings, newsletter)
    store = open_store(settings.store.url)
    now = datetime.now(UTC)
    console.print(upcoming_table(settings, newsletter, now))
    console.print(past_table(store, newsletter, limit))


def upcoming_table(settings: Settings, newsletter: str | None, now: datetime) -> Table:
    from digest.triggers import next_send_time

    table = Table(title="Upcoming runs", title_justify="left")
    for column in ("newsletter", "send at (local)", "in", "approval"):
        table.add_column(column, overflow="fold")
    for name, config in settings.newsletters.items():
        if newsletter and name != newsletter:
            continue
        send_at = next_send_time(config, now)
        if send_at is None:
            table.add_row(name, "never", "", "")
            continue
        preview = ""
        if config.approval is not None:
            preview = f"preview {send_at - config.approval.lead_time:%a %H:%M}"
        wait = str(send_at - now).split(".")[0]
        table.add_row(name, f"{send_at:%Y-%m-%d %a %H:%M %Z}", wait, preview)
    return table


def past_table(store: Store, newsletter: str | None, limit: int) -> Table:
    from digest.schedule import ledger

    table = Table(title="Past runs", title_justify="left")
    for column in (
        "run",
        "newsletter",
        "period",
        "status",
        "tries",
        "took",
        "email",
        "posts",
        "error",
    ):
        table.add_column(column, overflow="fold")
    records = ledger.list_runs(store, newsletter, limit)
    for record in records:
        report = record.report or {}
        table.add_row(
            str(record.id),
            record.newsletter,
            record.period_key,
            record.status,
            str(record.attempts or ""),
            _took(record),
            delivery_summary(store, record.edition_id, report),
            str(report.get("posts", "")),
            record.error or "",
        )
    if not records:
        table.caption = "no runs yet"
    return table


def _took(record: RunRecord) -> str:
    """Total time across attempts; with several attempts, also the last one's."""
    total, last = record.total_duration, record.duration
    if total is None:
        return ""
    text = f"{total.total_seconds():.1f}s"
    if last is not None and record.attempts > 1 and last != total:
        text += f" (last {last.total_seconds():.1f}s)"
    return text


def delivery_summary(store: Store, edition_id: int | None, report: dict[str, object]) -> str:
    """The edition's email as the ledger has it now: sent, pending (until when), failed."""
    if edition_id is None:
        return ""
    from digest.delivery import ledger as delivery_ledger
    from digest.store.tables import EditionRow

    with store.session() as session:
        counts = delivery_ledger.counts(session, edition_id)
        row = session.get(EditionRow, edition_id)
    if not counts:
        return str(report.get("sent", ""))
    parts = [f"{counts.get('sent', 0)} sent"]
    pending = counts.get("pending", 0) + counts.get("sending", 0)
    if pending:
        until = f" until {row.deliver_until:%m-%d %H:%M}" if row and row.deliver_until else ""
        parts.append(f"{pending} pending{until}")
    for status in ("failed", "suppressed"):
        if counts.get(status):
            parts.append(f"{counts[status]} {status}")
    return ", ".join(parts)


@app.command()
@user_errors
def approve(
    ctx: typer.Context,
    newsletter: str = typer.Argument(..., help="Newsletter id from config.yaml."),
    hold: bool = typer.Option(False, "--hold", help="Hold the edition instead of approving."),
    edition: int | None = typer.Option(None, "--edition", help="Edition id (default: latest)."),
    by: str | None = typer.Option(None, "--by", help="Who decides (default: your login)."),
    at: str | None = typer.Option(None, "--at", help="Decide as if at this time (ISO 8601)."),
) -> None:
    """Approve (or --hold) the edition waiting for review; past its send time it goes out now."""
    from digest.cli.core import parse_at
    from digest.schedule.approval import approve as approve_edition
    from digest.schedule.approval import hold as hold_edition
    from digest.store import open_store

    settings = settings_from(ctx)
    _check(settings, newsletter)
    store = open_store(settings.store.url)
    now = parse_at(at)
    row = _edition_to_decide(store, newsletter, edition)
    who = by or f"cli:{getpass.getuser()}"
    if hold:
        hold_edition(settings, store, row.id, who, now)
        console.print(f"Edition #{row.id} of {newsletter} ({row.period_key}) is held.")
        return
    approve_edition(settings, store, row.id, who, now)
    console.print(f"Edition #{row.id} of {newsletter} ({row.period_key}) is approved.")
    send_if_due(settings, store, newsletter, row.period_key, now)


def send_if_due(
    settings: Settings, store: Store, newsletter: str, period_key: str, now: datetime
) -> None:
    """After approval: send at once if the send time has passed, else say when it goes."""
    from digest.schedule import ledger, run_period

    record = ledger.get(store, newsletter, period_key)
    if record is None or record.scheduled_for is None:
        console.print("No scheduled run for it yet; it goes out with its run.")
        return
    if now < record.scheduled_for:
        local = record.scheduled_for.astimezone(_zone(settings, newsletter))
        console.print(f"It goes out at {local:%Y-%m-%d %H:%M %Z}.")
        return
    result = run_period(settings, store, newsletter, record.scheduled_for, now=now)
    console.print(f"Send time has passed: run {result.outcome}.")


def _zone(settings: Settings, newsletter: str) -> ZoneInfo:
    return ZoneInfo(settings.newsletters[newsletter].timezone)


def _edition_to_decide(store: Store, newsletter: str, edition_id: int | None) -> EditionRow:
    from sqlalchemy import select

    from digest.store.tables import EditionRow

    with store.session() as session:
        if edition_id is not None:
            row = session.get(EditionRow, edition_id)
            if row is None or row.newsletter != newsletter:
                raise DigestError(f"edition {edition_id} is not an edition of '{newsletter}'")
        else:
            row = session.scalars(
                select(EditionRow)
                .where(
                    EditionRow.newsletter == newsletter, EditionRow.status.in_(("draft", "held"))
                )
                .order_by(EditionRow.period_end.desc())
            ).first()
            if row is None:
                raise DigestError(f"'{newsletter}' has no edition waiting for approval")
        session.expunge(row)
        return row


def _check(settings: Settings, newsletter: str | None) -> None:
    if newsletter is not None and newsletter not in settings.newsletters:
        known = ", ".join(sorted(settings.newsletters)) or "none"
        raise DigestError(f"unknown newsletter '{newsletter}' (configured: {known})")
