"""`digest subscribers add|remove|list|import|export`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import typer

from digest.cli.app import app, console, settings_from, user_errors
from digest.errors import DigestError

subscribers_app = typer.Typer(
    help="Manage subscribers and their subscriptions.", no_args_is_help=True
)
app.add_typer(subscribers_app, name="subscribers")


def _list_name(ctx: typer.Context, newsletter: str | None) -> str:
    settings = settings_from(ctx)
    if newsletter is None:
        if len(settings.newsletters) != 1:
            raise DigestError(
                f"name the newsletter with --list (one of {list(settings.newsletters)})"
            )
        newsletter = next(iter(settings.newsletters))
    if newsletter in settings.newsletters:
        return settings.audience_of(newsletter)
    return newsletter


@subscribers_app.command("add")
@user_errors
def add(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The address."),
    name: str = typer.Option(None, "--name", help="Name used to greet them."),
    list_: str = typer.Option(None, "--list", "-l", help="Newsletter or list name."),
    pending: bool = typer.Option(False, "--pending", help="Subscribe as pending (unconfirmed)."),
) -> None:
    """Add (or update) a subscriber and subscribe them to a list."""
    from digest.store import open_store
    from digest.subscribers import add_subscriber, is_suppressed, normalize_email

    list_name = _list_name(ctx, list_)
    store = open_store(settings_from(ctx).store.url)
    now = datetime.now(UTC)
    with store.session() as session:
        address = normalize_email(email)
        if is_suppressed(session, address):
            raise DigestError(f"{address} is on the suppression list; it was not subscribed")
        add_subscriber(
            session,
            address,
            now,
            name=name,
            lists=(list_name,),
            status="pending" if pending else "confirmed",
        )
    console.print(f"subscribed {address} to {list_name}")


@subscribers_app.command("remove")
@user_errors
def remove(
    ctx: typer.Context,
    email: str = typer.Argument(...),
    list_: str = typer.Option(None, "--list", "-l", help="Only this list (default: all)."),
) -> None:
    """Unsubscribe someone from one list, or from everything."""
    from digest.store import open_store
    from digest.subscribers import remove_subscriber

    store = open_store(settings_from(ctx).store.url)
    list_name = _list_name(ctx, list_) if list_ else None
    with store.session() as session:
        if not remove_subscriber(session, email, datetime.now(UTC), list_name):
            raise DigestError(f"{email}: no such subscriber")
    console.print(f"unsubscribed {email} from {list_name or 'every list'}")


@subscribers_app.command("list")
@user_errors
def list_(
    ctx: typer.Context,
    list_: str = typer.Option(None, "--list", "-l"),
    status: str = typer.Option(None, "--status", help="active, unsubscribed, bounced, …"),
) -> None:
    """Show subscribers with their status and subscriptions."""
    from digest.store import open_store
    from digest.subscribers import list_subscribers

    store = open_store(settings_from(ctx).store.url)
    list_name = _list_name(ctx, list_) if list_ else None
    count = 0
    with store.session() as session:
        for row, lists in list_subscribers(session, list_name, status):
            console.print(f"{row.email}\t{row.name or ''}\t{row.status}\t{lists}", markup=False)
            count += 1
    console.print(f"{count} subscriber{'s' if count != 1 else ''}")


@subscribers_app.command("import")
@user_errors
def import_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="CSV file with a header row ('-' for stdin)."),
    list_: str = typer.Option(None, "--list", "-l"),
    email_column: str = typer.Option(None, "--email", help="Column holding the address."),
    name_column: str = typer.Option(None, "--name", help="Column holding the name."),
    attribute: list[str] = typer.Option(
        [], "--attr", help="COLUMN=ATTRIBUTE to keep as a custom attribute (repeatable)."
    ),
    pending: bool = typer.Option(False, "--pending", help="Import as unconfirmed."),
) -> None:
    """Import a CSV: duplicates merged, invalid rows reported by line and skipped."""
    from digest.store import open_store
    from digest.subscribers import import_csv

    list_name = _list_name(ctx, list_)
    mapping = _attr_mapping(attribute) if attribute else None
    store = open_store(settings_from(ctx).store.url)
    stream = sys.stdin if str(path) == "-" else _open(path)
    with stream, store.session() as session:
        result = import_csv(
            session,
            stream,
            list_name,
            datetime.now(UTC),
            email_column=email_column,
            name_column=name_column,
            attribute_columns=mapping,
            status="pending" if pending else "confirmed",
        )
    console.print(result.summary(), markup=False)
    for line, address in result.suppressed:
        console.print(f"  line {line}: {address} is suppressed; not subscribed", markup=False)
    for line, problem in result.invalid:
        console.print(f"  line {line}: {problem}", markup=False)


def _open(path: Path) -> TextIO:
    from digest.subscribers import open_csv

    try:
        return open_csv(path)  # UTF-8, or Windows-1252 when it is not UTF-8
    except OSError as exc:
        raise DigestError(f"{path}: {exc.strerror}") from None


def _attr_mapping(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, name = pair.partition("=")
        if not sep or not column or not name:
            raise DigestError(f"--attr '{pair}': expected COLUMN=ATTRIBUTE")
        mapping[column] = name
    return mapping


@subscribers_app.command("export")
@user_errors
def export(
    ctx: typer.Context,
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default stdout)."),
    list_: str = typer.Option(None, "--list", "-l"),
) -> None:
    """Export subscribers as CSV (cells that spreadsheets would run as formulas are quoted)."""
    from digest.store import open_store
    from digest.subscribers import export_csv

    store = open_store(settings_from(ctx).store.url)
    list_name = _list_name(ctx, list_) if list_ else None
    with store.session() as session:
        if output is None:
            export_csv(session, sys.stdout, list_name)
            return
        with output.open("w", encoding="utf-8", newline="") as out:
            count = export_csv(session, out, list_name)
    console.print(f"wrote {count} subscribers to {output}")
