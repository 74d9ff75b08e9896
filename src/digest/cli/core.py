"""The pipeline commands: check-config, init, collect, build, preview, run, demo."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from digest.cli.app import app, console, require_signing_key, settings_from, user_errors
from digest.errors import DigestError
from digest.models import RunReport
from digest.timing import Period

if TYPE_CHECKING:
    from digest.render import Renderer
    from digest.schedule.runs import Runner

if TYPE_CHECKING:
    from digest.config import Settings
    from digest.store import Store

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
    for note in report.source_notes:
        console.print(f"  {note}", markup=False, highlight=False)
    for title, roster in report.roster.items():
        if roster.get("quiet"):
            console.print(
                f"{title}: nothing this period from {', '.join(roster['quiet'])}",
                markup=False,
                emoji=False,
            )
        for failure in roster.get("failed", []):
            console.print(f"{title}: could not read {failure}", markup=False, emoji=False)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


@app.command("check-config")
@user_errors
def check_config(ctx: typer.Context) -> None:
    """Validate config.yaml and report every problem with its path."""
    from digest.config import config_warnings
    from digest.signing import key_problems

    settings = settings_from(ctx)
    for warning in config_warnings(settings, datetime.now(UTC)):
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for problem in key_problems(settings.signing_keys(), settings.signing_key_variable):
        console.print(f"[yellow]warning:[/] {problem}", highlight=False)
    console.print(
        f"{ctx.obj['config_path']}: valid — {len(settings.sources)} sources, "
        f"{len(settings.formats)} formats, {len(settings.newsletters)} newsletters, "
        f"{len(settings.channels)} channels"
    )


@app.command()
@user_errors
def init(
    directory: Path = typer.Argument(..., help="Folder for the new organisation."),
    at: str | None = typer.Option(
        None, "--at", help="Date the sample items as if today were this time (ISO 8601)."
    ),
) -> None:
    """Write a starter config.yaml, sample sources and an editable templates folder."""
    from digest.render.templates import default_templates_dir
    from digest.starter_files import date_samples

    starter = Path(__file__).resolve().parent.parent / "starter"
    target = directory / "config.yaml"
    if target.exists():
        raise DigestError(f"{target} already exists; not overwriting it")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copytree(starter, directory, dirs_exist_ok=True)
    shutil.copytree(default_templates_dir(), directory / "templates", dirs_exist_ok=True)
    date_samples(target, parse_at(at))
    console.print(f"Wrote {target}, {directory / 'sources'} and {directory / 'templates'}.")
    console.print("The sample items are dated this week, so a first preview shows them. Next:")
    for step in ("check-config", "collect", "preview weekly"):
        console.print(f"  digest --config {target} {step}", markup=False)


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
    from digest.store import open_store

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
    from digest.pipeline import refresh_drafts

    with console.status("Recomposing drafts…"):
        refresh_drafts(settings, store, report, parse_at(at))
    print_report(report)


def _period(settings: Settings, newsletter: str, at: str | None, store: Store) -> Period:
    """ "This edition": the one whose send time is next (see digest.draft.due)."""
    from digest.draft import due

    return due(settings, store, newsletter, parse_at(at)).period


@app.command()
@user_errors
def build(
    ctx: typer.Context,
    newsletter: str = typer.Argument(..., help="Newsletter id from config.yaml."),
    at: str | None = typer.Option(None, "--at", "--period", help=AT_HELP),
) -> None:
    """Build (or recompose) the next edition's draft from stored items (no sending)."""
    from digest.draft import ensure_draft
    from digest.store import open_store

    settings = settings_from(ctx)
    check_newsletter(settings, newsletter)
    store = open_store(settings.store.url)
    period = _period(settings, newsletter, at, store)
    edition = ensure_draft(settings, store, newsletter, period, now=parse_at(at), actor="cli")
    if edition is None:
        console.print(f"{newsletter}: nothing new for the period ending {period.key}.")
        print_why_empty(settings, store, newsletter, period)
        return
    status = _status(store, edition.id)
    console.print(
        f"Edition #{edition.id} of {newsletter} ({status}) for {period.start:%Y-%m-%d %H:%M} → "
        f"{period.end:%Y-%m-%d %H:%M %Z}: {len(edition.sections)} sections, "
        f"{edition.item_count} items, {len(edition.html.encode()) // 1024} KB of HTML."
    )


def _status(store: Store, edition_id: int | None) -> str:
    from digest.lifecycle import current_status

    status = current_status(store, edition_id) if edition_id is not None else None
    return status.value if status else "not stored"


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
    from digest.store import open_store

    settings = settings_from(ctx)
    check_newsletter(settings, newsletter)
    store = open_store(settings.store.url)
    period = _period(settings, newsletter, at, store)
    edition = preview_edition(settings, store, newsletter, period)
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
    if not edition.item_count:
        print_why_empty(settings, store, newsletter, period)


def print_why_empty(settings: Settings, store: Store, newsletter: str, period: Period) -> None:
    from digest.hints import why_empty

    for line in why_empty(settings, store, newsletter, period):
        console.print(f"[yellow]why empty:[/] {line}", highlight=False, soft_wrap=True)


def warn_if_demo_key(settings: Settings) -> None:
    if settings.signing_keys().is_demo:
        name = settings.signing_key_variable or "signing_key"
        console.print(
            f"[bold yellow]warning: {name} is not set: this demo signs its links with the "
            "PUBLIC demo key, which anyone can use to forge them.[/] Only the demo runs "
            "with it; serve, send, schedule, post, run and bounces refuse to. Make a real "
            "key with: digest web make-key",
            highlight=False,
        )


def run_all(
    settings: Settings,
    names: list[str],
    now: datetime,
    store: Store,
    collect_first: bool,
    late: bool = False,
    renderer: Renderer | None = None,
) -> list[RunReport]:
    """Collect once, then run each newsletter's next edition due through the run ledger.

    This is the scheduler's path too (digest.schedule.run_period): a period that already
    succeeded is not run again, and one that failed or crashed is resumed. An edition
    whose send time is still ahead is only drafted; one whose send time passed more than
    the grace ago is not sent unless ``late`` (the report says so: see ``refused``).
    """
    from digest.pipeline import collect_stage
    from digest.render import Renderer
    from digest.schedule.runs import runner_with
    from digest.sources import parse_pool_for

    warn_if_demo_key(settings)
    # one template environment for the whole command
    renderer = renderer or Renderer(settings)
    reports = []
    if collect_first:
        collect_report = RunReport(newsletter="collect")
        # The parsing workers fork before the spinner starts its thread.
        with parse_pool_for(settings) as pool, console.status("Collecting sources…"):
            collect_stage(settings, store, collect_report, now, cpu_pool=pool, renderer=renderer)
        reports.append(collect_report)
    runner = runner_with(renderer, collect=False)  # collected once for all above
    for name in names:
        with console.status(f"Running {name}…"):
            reports.extend(run_one(settings, store, name, now, runner, renderer, late=late))
    return reports


REFUSED = "not sent: its send time passed"


def refused(report: RunReport) -> bool:
    """Did the run decline to send a stale edition (the command exits non-zero)?"""
    return any(REFUSED in w for w in report.warnings)


def run_one(
    settings: Settings,
    store: Store,
    name: str,
    now: datetime,
    runner: Runner,
    renderer: Renderer,
    late: bool = False,
) -> list[RunReport]:
    from digest.draft import _finished, due, missed

    reports = []
    stale = missed(settings, name, now)
    if stale is not None and not _finished(store, name, stale.period.key):
        if late:
            return [_run_fire(settings, store, name, stale.send_at, now, runner)]
        if _pending(store, name, stale.period.key):
            reports.append(_refusal(settings, store, name, stale, now))
    coming = due(settings, store, name, now)
    if coming.send_at > now:
        latest = _latest_finished(settings, store, name, now, late)
        if latest is not None:
            report = RunReport(newsletter=name)
            report.warn(f"{name}: the period ending {latest} already ran; nothing to do")
            reports.append(report)
        reports.append(_draft_only(settings, store, name, coming, now, renderer))
    else:
        reports.append(_run_fire(settings, store, name, coming.send_at, now, runner))
    return reports


def _latest_finished(
    settings: Settings, store: Store, name: str, now: datetime, late: bool
) -> str | None:
    """The latest period's key if its run finished (and it still counts: within the
    grace, or --late)."""
    from digest.draft import _finished
    from digest.pipeline import latest_period
    from digest.triggers import latest_send_time

    newsletter = settings.newsletters[name]
    fire = latest_send_time(newsletter, now)
    if fire is None or (now - fire > newsletter.grace and not late):
        return None
    key = latest_period(settings, name, now).key
    return key if _finished(store, name, key) else None


def _pending(store: Store, name: str, period_key: str) -> bool:
    """Was something of this period left unsent (an edition, or a run not finished)?"""
    from digest.editions import find_edition
    from digest.schedule import ledger

    record = ledger.get(store, name, period_key)
    if record is not None and record.status in ledger.FINISHED:
        return False
    with store.session() as session:
        row = find_edition(session, name, period_key)
        status = row.status if row is not None else None
    return record is not None or status not in (None, "sent", "cancelled")


def _refusal(settings: Settings, store: Store, name: str, stale: Any, now: datetime) -> RunReport:
    from digest.draft import audience_size
    from digest.editions import preview_edition

    edition = preview_edition(settings, store, name, stale.period)
    audience = audience_size(settings, store, name, now)
    report = RunReport(newsletter=name)
    grace = settings.newsletters[name].grace
    report.warn(
        f"{name}: the edition of {stale.period.key} ({edition.item_count} items, "
        f"subject {edition.subject!r}) would have gone to {audience} subscribers, but is "
        f"{REFUSED} {_ago(now - stale.send_at)} ago (grace {_ago(grace)}). "
        f"To send it anyway: digest run {name} --late"
    )
    return report


def _ago(delta: Any) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h"


def _draft_only(
    settings: Settings, store: Store, name: str, coming: Any, now: datetime, renderer: Renderer
) -> RunReport:
    from digest.draft import ensure_draft

    report = RunReport(newsletter=name)
    edition = ensure_draft(
        settings, store, name, coming.period, now=now, actor="cli", renderer=renderer
    )
    when = coming.send_at.astimezone(ZoneInfo(settings.newsletters[name].timezone))
    if edition is None:
        report.warn(f"{name}: nothing to show yet for the edition due {when:%a %Y-%m-%d %H:%M %Z}")
        return report
    report.sections = len(edition.sections)
    report.outputs["edition"] = f"{name} #{edition.id} ({coming.period.key}): draft"
    report.outputs["goes out"] = f"{when:%A %Y-%m-%d %H:%M %Z}; nothing sent now"
    return report


def _run_fire(
    settings: Settings, store: Store, name: str, fire: datetime, now: datetime, runner: Runner
) -> RunReport:
    from digest.schedule import run_period

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
    late: bool = typer.Option(
        False, "--late", help="Send an edition whose send time passed more than its grace ago."
    ),
) -> None:
    """Collect → build → deliver → post the next edition due; safe to rerun.

    Before its send time this only drafts it (nothing is sent). An edition whose send
    time passed more than the newsletter's grace ago is not sent without --late."""
    from digest.store import open_store

    settings = settings_from(ctx)
    if all_ == (newsletter is not None):
        raise DigestError("name one newsletter or pass --all")
    names = list(settings.newsletters) if all_ else [newsletter or ""]
    for name in names:
        check_newsletter(settings, name)
    require_signing_key(settings, "run")
    store = open_store(settings.store.url)
    reports = run_all(settings, names, parse_at(at), store, not no_collect, late=late)
    for report in reports:
        print_report(report)
    pending = [r for r in reports if r.deferred]
    for report in pending:
        console.print(
            f"[yellow]{report.newsletter}: {report.deferred} copies are still pending[/]: "
            "'digest schedule' retries them until the edition's deadline, or run this "
            "command again."
        )
    if pending or any(refused(r) for r in reports):
        raise typer.Exit(1)


DEMO_AT = "2026-11-20T16:00-05:00"


@app.command()
@user_errors
def demo(
    ctx: typer.Context,
    at: str = typer.Option(DEMO_AT, "--at", help=AT_HELP),
) -> None:
    """Import the sample subscribers and run every newsletter on the embedded defaults."""
    from digest.store import open_store
    from digest.subscribers import import_csv

    settings = settings_from(ctx)
    store = open_store(settings.store.url)
    sample = settings.resolve_path(Path("examples/subscribers.csv"))
    if sample.exists():
        with store.session() as session:
            result = import_csv(session, sample, now=parse_at(at))
        console.print(f"Subscribers: {result.summary()}")
    # The demo builds "this week's" newsletters as of --at, late or not.
    from digest.render import Renderer

    renderer = Renderer(settings)  # one for the whole demo: each template compiles once
    reports = run_all(
        settings,
        list(settings.newsletters),
        parse_at(at),
        store,
        True,
        late=True,
        renderer=renderer,
    )
    for report in reports:
        print_report(report)
    drafts = _next_drafts(settings, store, parse_at(at), renderer)
    out = settings.out_dir
    console.print("\n[bold]Done.[/] Open what digest made:")
    console.print(f"  email (Maildir, one file per subscriber): {out / 'outbox' / 'new'}")
    console.print(f"  archive pages: {out / 'site' / 'index.html'}")
    console.print(f"  social posts (dry run): {out / 'social'}")
    _print_desk_hint(settings, drafts)


def _next_drafts(
    settings: Settings, store: Store, now: datetime, renderer: Renderer
) -> list[tuple[str, int]]:
    """Each newsletter's next edition as a draft (when it has anything to show yet)."""
    from digest.draft import due, ensure_draft

    drafts = []
    for name in settings.newsletters:
        period = due(settings, store, name, now).period
        edition = ensure_draft(
            settings, store, name, period, now=now, actor="demo", renderer=renderer
        )
        if edition is not None and edition.id is not None:
            drafts.append((name, edition.id))
    return drafts


def _print_desk_hint(settings: Settings, drafts: list[tuple[str, int]]) -> None:
    if not drafts:
        return
    base = f"http://{settings.web.host}:{settings.web.port}"
    console.print("\n[bold]Next editions, drafts to shape before they go out:[/]")
    for name, edition_id in drafts:
        console.print(f"  {name}: {base}/desk/editions/{edition_id}/edit (or: digest draft {name})")
    console.print(
        'Open the desk: export DIGEST_STAFF_PASSWORD_HASH="$(digest web hash-password)" '
        f"(type the password you want), run 'digest serve', then sign in at {base}/desk/login.",
        markup=False,
    )
