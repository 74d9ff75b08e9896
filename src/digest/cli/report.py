"""``digest report``: what an edition did (or the trend across editions), as text or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from digest.cli.app import app, console, settings_from, user_errors
from digest.errors import DigestError

if TYPE_CHECKING:
    from digest.reach.report import EditionReport


@app.command()
@user_errors
def report(
    ctx: typer.Context,
    newsletter: str = typer.Argument(..., help="The newsletter's id in config.yaml."),
    edition: int | None = typer.Option(
        None, "--edition", help="An edition's number; the latest one sent when left out."
    ),
    trend: bool = typer.Option(False, "--trend", help="Every recent edition, one row each."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    social: bool = typer.Option(
        False, "--social", help="Read the Bluesky posts' likes, reposts, replies, quotes again."
    ),
) -> None:
    """Deliveries, bounces, unsubscribes and clicks of an edition; never who clicked."""
    from digest.reach.report import edition_ids, edition_report
    from digest.reach.report import trend as trend_reports
    from digest.reach.social import refresh_bluesky_counts
    from digest.store import open_store

    settings = settings_from(ctx)
    if newsletter not in settings.newsletters:
        known = ", ".join(sorted(settings.newsletters))
        raise DigestError(f"unknown newsletter '{newsletter}' (known: {known})")
    store = open_store(settings.store.url)
    if social:
        with store.session() as session:
            chosen_ids = edition_ids(session, newsletter) if trend else [edition]
            if not trend and edition is None:
                chosen_ids = edition_ids(session, newsletter)[-1:]
        for edition_id in chosen_ids:
            if edition_id is not None:
                refresh_bluesky_counts(settings, store, edition_id, datetime.now(UTC))
    with store.session() as session:
        if trend:
            reports = trend_reports(settings, session, newsletter)
        else:
            ids = edition_ids(session, newsletter)
            chosen = edition if edition is not None else (ids[-1] if ids else None)
            if chosen is None:
                raise DigestError(f"no edition of '{newsletter}' has gone out yet")
            reports = [edition_report(settings, session, chosen)]
            if reports[0].newsletter != newsletter:
                raise DigestError(f"edition {chosen} is not an edition of '{newsletter}'")
    store.dispose()
    if as_json:
        typer.echo(
            json.dumps(
                [r.as_dict() for r in reports] if trend else reports[0].as_dict(),
                ensure_ascii=False,
                indent=2,
            )
        )
    elif trend:
        _print_trend(reports)
    else:
        _print_edition(reports[0])


def _print_trend(reports: list[EditionReport]) -> None:
    from digest.reach.report import TREND_COLUMNS, trend_rows

    table = Table(*TREND_COLUMNS[1:], title="Editions, oldest first")
    for row in trend_rows(reports):
        table.add_row(*(str(value) for value in row[1:]))
    console.print(table)


def _print_edition(report: EditionReport) -> None:
    counts = report.deliveries
    console.print(f"Edition #{report.edition_id} of {report.newsletter}: {report.subject}")
    console.print(
        f"  delivered {report.delivered}, deferred {counts.get('deferred', 0)}, "
        f"not yet sent {counts.get('queued', 0)}, failed {counts.get('failed', 0)}"
    )
    console.print(
        f"  bounced {report.bounced}, complaints {report.complaints}, "
        f"unsubscribed after it {report.unsubscribes}"
    )
    console.print(
        f"  clicks by people {report.clicks} ({report.clicks_per_100} per 100 delivered), "
        f"by machines {report.machine_clicks} (counted apart)"
    )
    if report.sections:
        console.print(
            "  per section: " + ", ".join(f"{t.name} {t.clicks}" for t in report.sections)
        )
    if report.groups:
        console.print("  per group: " + ", ".join(f"{t.name} {t.clicks}" for t in report.groups))
    for post in report.social:
        counted = ", ".join(f"{n} {name}" for name, n in post.counts.items()) or "not read"
        console.print(
            f"  {post.platform} part {post.part} ({post.status}): {counted}", markup=False
        )
    for link in report.links:
        where = f"{link.section} · {link.group}" if link.group else link.section
        console.print(
            f"  {link.link:>3}. {link.clicks:>5}  {link.label or link.url}  [{where}]", markup=False
        )
