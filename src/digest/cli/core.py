"""The pipeline commands: check-config, init, collect, build, preview, run, demo."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from digest.cli.app import app, console, settings_from, user_errors
from digest.config import Settings
from digest.errors import DigestError
from digest.models import RunReport
from digest.store import Store, open_store
from digest.timing import Period

AT_HELP = (
    "Run as if at this time (ISO 8601, e.g. 2026-11-20T16:00-05:00): the period is the one "
    "whose scheduled send is the latest at or before it."
)


def parse_at(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise DigestError(
            f"--at: '{at}' is not an ISO 8601 time like 2026-11-20T16:00-05:00"
        ) from None
    if moment.tzinfo is None:
        raise DigestError(f"--at: '{at}' needs a UTC offset, e.g. 2026-11-20T16:00-05:00")
    return moment


def check_newsletter(settings: Settings, name: str) -> None:
    if name not in settings.newsletters:
        known = ", ".join(sorted(settings.newsletters)) or "none"
        raise DigestError(f"unknown newsletter '{name}' (configured: {known})")


def print_report(report: RunReport) -> None:
    title = f"Run report: {report.newsletter}" if report.newsletter else "Run report"
    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    rows = [
        ("sources read", report.sources_read),
        ("sources failed", report.sources_failed),
        ("items new", report.items_new),
        ("items updated", report.items_updated),
        ("sections", report.sections),
        ("recipients", report.recipients),
        ("sent", report.sent),
        ("deferred", report.deferred),
        ("failed", report.failed),
        ("suppressed", report.suppressed),
        ("social posts", report.posts),
    ]
    for label, value in rows:
        if value:  # a zero row is noise: a collect sends nothing, a send collects nothing
            table.add_row(label, str(value))
    for label, where in report.outputs.items():
        table.add_row(label, where)
    if table.row_count:
        console.print(table)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


@app.command("check-config")
@user_errors
def check_config(ctx: typer.Context) -> None:
    """Validate config.yaml and report every problem with its path."""
    from digest.config import config_warnings

    settings = settings_from(ctx)
    for warning in config_warnings(settings, datetime.now(UTC)):
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(
        f"{ctx.obj['config_path']}: valid — {len(settings.sources)} sources, "
        f"{len(settings.formats)} formats, {len(settings.newsletters)} newsletters, "
        f"{len(settings.channels)} channels"
    )


@app.command()
@user_errors
def init(directory: Path = typer.Argument(..., help="Folder for the new organisation.")) -> None:
    """Write a starter config.yaml, sample sources and an editable templates folder."""
    from digest.render.templates import default_templates_dir

    starter = Path(__file__).resolve().parent.parent / "starter"
    target = directory / "config.yaml"
    if target.exists():
        raise DigestError(f"{target} already exists; not overwriting it")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copytree(starter, directory, dirs_exist_ok=True)
    shutil.copytree(default_templates_dir(), directory / "templates", dirs_exist_ok=True)
    console.print(f"Wrote {target}, {directory / 'sources'} and {directory / 'templates'}.")
    console.print(f"Next: edit config.yaml, then run: digest --config {target} check-config")


@app.command()
@user_errors
def collect(
    ctx: typer.Context,
    source: list[str] = typer.Option([], "--source", "-s", help="Only these source ids."),
    at: str | None = typer.Option(None, "--at", help=AT_HELP),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print what each source would read (X: and cost); read nothing."
    ),
) -> None:
    """Fetch every source and store new and updated items."""
    from digest.sources import collect as collect_sources

    settings = settings_from(ctx)
    if dry_run:
        from digest.sources.plan import collect_plan

        for line in collect_plan(settings, source or None):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        return
    from digest.sources import parse_pool_for

    report = RunReport()
    store = open_store(settings.store.url)
    only = source or None
    # The parsing workers fork before the spinner starts its thread (fork needs one thread).
    with parse_pool_for(settings, only) as pool, console.status("Collecting sources…"):
        collect_sources(settings, store, report, now=parse_at(at), only=only, cpu_pool=pool)
    print_report(report)


def _period(settings: Settings, newsletter: str, at: str | None) -> Period:
    from digest.pipeline import current_period

    return current_period(settings, newsletter, parse_at(at))


@app.command()
@user_errors
def build(
    ctx: typer.Context,
    newsletter: str = typer.Argument(..., help="Newsletter id from config.yaml."),
    at: str | None = typer.Option(None, "--at", "--period", help=AT_HELP),
) -> None:
    """Build and freeze the current period's edition from stored items (no sending)."""
    from digest.editions import build_edition

    settings = settings_from(ctx)
    check_newsletter(settings, newsletter)
    store = open_store(settings.store.url)
    period = _period(settings, newsletter, at)
    edition = build_edition(settings, store, newsletter, period, now=parse_at(at))
    if edition is None:
        console.print(f"{newsletter}: nothing new for the period ending {period.key}.")
        return
    console.print(
        f"Edition #{edition.id} of {newsletter} for {period.start:%Y-%m-%d %H:%M} → "
        f"{period.end:%Y-%m-%d %H:%M %Z}: {len(edition.sections)} sections, "
        f"{edition.item_count} items, {len(edition.html.encode()) // 1024} KB of HTML."
    )


@app.command()
@user_errors
def preview(
    ctx: typer.Context,
    newsletter: str = typer.Argument(..., help="Newsletter id from config.yaml."),
    at: str | None = typer.Option(None, "--at", "--period", help=AT_HELP),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the files (default out/preview)."
    ),
) -> None:
    """Write the edition's email HTML, text and archive page to files, changing nothing."""
    from digest.editions import preview_edition

    settings = settings_from(ctx)
    check_newsletter(settings, newsletter)
    store = open_store(settings.store.url)
    edition = preview_edition(settings, store, newsletter, _period(settings, newsletter, at))
    folder = out or settings.out_dir / "preview"
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        f"{newsletter}.html": edition.html,
        f"{newsletter}.txt": edition.text,
        f"{newsletter}.web.html": edition.web_html,
    }
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    console.print(f"Preview of {newsletter} ({edition.item_count} items) written to:")
    for name in files:
        console.print(f"  {folder / name}")


def warn_if_demo_key(settings: Settings) -> None:
    key = settings.signing_key
    if key is None or not key.is_set():
        name = key.var if key is not None else "signing_key"
        console.print(
            f"[yellow]warning:[/] {name} is not set: links are signed with a demo key. "
            "Set it before sending to real subscribers.",
            highlight=False,
        )


def run_all(
    settings: Settings, names: list[str], now: datetime, store: Store, collect_first: bool
) -> list[RunReport]:
    """Collect once, then run each newsletter's current period through the run ledger.

    This is the scheduler's path too (digest.schedule.run_period): a period that already
    succeeded is not run again, and one that failed or crashed is resumed.
    """
    from digest.pipeline import collect_stage
    from digest.sources import parse_pool_for

    warn_if_demo_key(settings)
    reports = []
    if collect_first:
        collect_report = RunReport(newsletter="collect")
        # The parsing workers fork before the spinner starts its thread.
        with parse_pool_for(settings) as pool, console.status("Collecting sources…"):
            collect_stage(settings, store, collect_report, now, cpu_pool=pool)
        reports.append(collect_report)
    for name in names:
        with console.status(f"Running {name}…"):
            reports.append(run_one(settings, store, name, now))
    return reports


def run_one(settings: Settings, store: Store, name: str, now: datetime) -> RunReport:
    from digest.schedule import run_period
    from digest.schedule.runs import default_runner
    from digest.schedule.triggers import latest_send_time

    fire = latest_send_time(settings.newsletters[name], now)
    if fire is None:
        raise DigestError(f"newsletter '{name}': its schedule has no run before {now}")

    def runner(*args: Any, **kwargs: Any) -> RunReport:
        kwargs["collect"] = False  # collected once for all newsletters above
        return default_runner(*args, **kwargs)

    result = run_period(settings, store, name, fire, now=now, runner=runner)
    if result.outcome == "already_done":
        report = RunReport(newsletter=name)
        report.warn(f"{name}: the period ending {result.period_key} already ran; nothing to do")
        return report
    report = _stored_report(result.record.report if result.record else None, name)
    if result.outcome not in ("succeeded",):
        error = result.record.error if result.record and result.record.error else ""
        report.warn(f"{name}: run {result.outcome}{': ' + error if error else ''}")
    return report


def _stored_report(data: dict[str, Any] | None, name: str) -> RunReport:
    fields = set(RunReport.__dataclass_fields__)
    known = {k: v for k, v in (data or {}).items() if k in fields}
    return RunReport(**{**known, "newsletter": name})


@app.command()
@user_errors
def run(
    ctx: typer.Context,
    newsletter: str | None = typer.Argument(None, help="Newsletter id (or use --all)."),
    all_: bool = typer.Option(False, "--all", help="Run every newsletter."),
    at: str | None = typer.Option(None, "--at", help=AT_HELP),
    no_collect: bool = typer.Option(False, "--no-collect", help="Use stored items only."),
    now_flag: bool = typer.Option(
        False, "--now", help="Run now, by hand (the default; the scheduler takes the same path)."
    ),
) -> None:
    """Collect → build → deliver → post, for the current period; safe to rerun."""
    settings = settings_from(ctx)
    if all_ == (newsletter is not None):
        raise DigestError("name one newsletter or pass --all")
    names = list(settings.newsletters) if all_ else [newsletter or ""]
    for name in names:
        check_newsletter(settings, name)
    store = open_store(settings.store.url)
    reports = run_all(settings, names, parse_at(at), store, not no_collect)
    for report in reports:
        print_report(report)
    pending = [r for r in reports if r.deferred]
    for report in pending:
        console.print(
            f"[yellow]{report.newsletter}: {report.deferred} copies are still pending[/]: "
            "'digest schedule' retries them until the edition's deadline, or run this "
            "command again."
        )
    if pending:
        raise typer.Exit(1)


DEMO_AT = "2026-11-20T16:00-05:00"


@app.command()
@user_errors
def demo(
    ctx: typer.Context,
    at: str = typer.Option(DEMO_AT, "--at", help=AT_HELP),
) -> None:
    """Import the sample subscribers and run every newsletter on the embedded defaults."""
    from digest.subscribers import import_csv

    settings = settings_from(ctx)
    store = open_store(settings.store.url)
    sample = settings.resolve_path(Path("examples/subscribers.csv"))
    if sample.exists():
        with store.session() as session:
            result = import_csv(session, sample, now=parse_at(at))
        console.print(f"Subscribers: {result.summary()}")
    reports = run_all(settings, list(settings.newsletters), parse_at(at), store, True)
    for report in reports:
        print_report(report)
    out = settings.out_dir
    console.print("\n[bold]Done.[/] Open what digest made:")
    console.print(f"  email (Maildir, one file per subscriber): {out / 'outbox' / 'new'}")
    console.print(f"  archive pages: {out / 'site' / 'index.html'}")
    console.print(f"  social posts (dry run): {out / 'social'}")
