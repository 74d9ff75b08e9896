"""The editor's CLI twin of the desk: ``digest draft NEWSLETTER`` and its verbs.

    digest draft weekly                     sections and items with stable ids (--json)
    digest edit headline weekly "Let Us Work"
    digest edit subject|preheader|note weekly TEXT
    digest edit intro weekly SECTION TEXT
    digest edit drop|restore|pin|unpin weekly ITEM
    digest edit move weekly ITEM up|down|top|bottom|N [--section SECTION]
    digest edit item weekly ITEM [--title T] [--excerpt E]
    digest edit add-url weekly SECTION URL [--title T] [--excerpt E]
    digest edit groups weekly SECTION [HEADING ...]   (none: every group, automatic)
    digest edit history weekly

Every verb works on the newsletter's next edition due (or ``--edition``), prints what
changed, and goes through digest.edits (the same code as the desk).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import typer

from digest.cli.app import app, console, settings_from, user_errors
from digest.cli.core import AT_HELP, check_newsletter, parse_at
from digest.errors import DigestError

if TYPE_CHECKING:  # the editing modules load only when an edit command runs
    from digest.config import Settings
    from digest.edits import Change, DraftView
    from digest.store import Store

NEWSLETTER = typer.Argument(..., help="Newsletter id from config.yaml.")
EDITION = typer.Option(None, "--edition", help="Edition id (default: the next one due).")
AT = typer.Option(None, "--at", help=AT_HELP)
BY = typer.Option(None, "--by", help="Who is editing (default: cli:$USER).")


def actor(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def draft_id(
    settings: Settings, store: Store, newsletter: str, edition: int | None, now: datetime
) -> int:
    """The edition to work on: --edition, else the next one due (its draft made now)."""
    from digest.draft import due, ensure_draft
    from digest.store.tables import EditionRow

    if edition is not None:
        with store.session() as session:
            row = session.get(EditionRow, edition)
            if row is None or row.newsletter != newsletter:
                raise DigestError(f"edition {edition} is not an edition of '{newsletter}'")
            return row.id
    period = due(settings, store, newsletter, now).period
    built = ensure_draft(settings, store, newsletter, period, now=now, actor="cli")
    if built is None or built.id is None:
        raise DigestError(
            f"{newsletter}: nothing to show yet for the edition of {period.key}; "
            "collect first (digest collect)"
        )
    return built.id


def _run_change(
    ctx: typer.Context,
    newsletter: str,
    edition: int | None,
    at: str | None,
    by: str | None,
    change: Change,
) -> None:
    settings = settings_from(ctx)
    check_newsletter(settings, newsletter)
    from digest.store import open_store

    store = open_store(settings.store.url)
    now = parse_at(at)
    edition_id = draft_id(settings, store, newsletter, edition, now)
    from digest.edits import apply_edit

    result = apply_edit(settings, store, edition_id, change, actor=actor(by), now=now)
    console.print(f"edition #{edition_id} ({newsletter}): {result.message}", markup=False)
    if result.reopened:
        console.print("It was approved: it is a draft again and needs approval again.")


@app.command("draft")
@user_errors
def draft(
    ctx: typer.Context,
    newsletter: str = NEWSLETTER,
    as_json: bool = typer.Option(False, "--json", help="Print the draft as JSON."),
    edition: int | None = EDITION,
    at: str | None = AT,
) -> None:
    """Show the next edition's draft: sections and items with their stable ids.

    Shape it with `digest edit NEWSLETTER ...` (see `digest edit --help`)."""
    settings = settings_from(ctx)
    check_newsletter(settings, newsletter)
    from digest.store import open_store

    store = open_store(settings.store.url)
    now = parse_at(at)
    edition_id = draft_id(settings, store, newsletter, edition, now)
    from digest.edits import open_view

    _, view = open_view(settings, store, edition_id, now=now)
    if as_json:
        console.print_json(json.dumps(view.to_dict(), default=str))
        return
    print_view(view)


def print_view(view: DraftView) -> None:
    out = console.print
    out(f"Edition #{view.edition_id} of {view.newsletter} ({view.period_key}): {view.status}")
    out(f"  subject:   {view.subject}", markup=False)
    out(f"  headline:  {view.headline or '(none: the newsletter title)'}", markup=False)
    out(f"  preheader: {view.preheader or '(none: the section titles)'}", markup=False)
    if view.note:
        out(f"  note:      {view.note}", markup=False)
    for section in view.sections:
        out(f"\n[{section.format_id}] {section.title}", markup=False)
        if section.intro:
            out(f"  intro: {section.intro}", markup=False)
        if section.grouped:
            out(f"  groups: {', '.join(section.groups_shown) or '(none)'}", markup=False)
        for item in section.items:
            flags = [
                f
                for f, on in (
                    ("dropped", item.dropped),
                    ("pinned", item.pinned),
                    ("added", item.added),
                    ("edited", item.edited),
                )
                if on
            ]
            where = f" [{item.group}]" if item.group else ""
            mark = f" ({', '.join(flags)})" if flags else ""
            out(f"  {item.key:>8}  {item.title}{where}{mark}", markup=False)


edit_app = typer.Typer(help="Shape the next edition's draft (each verb prints what changed).")
app.add_typer(edit_app, name="edit")


@edit_app.command("headline")
@user_errors
def set_headline(
    ctx: typer.Context,
    newsletter: str = NEWSLETTER,
    text: str = typer.Argument(..., help="The headline ('' to clear)."),
    edition: int | None = EDITION,
    at: str | None = AT,
    by: str | None = BY,
) -> None:
    """The edition's headline: the email's and archive page's H1, {headline} in the subject."""
    from digest.edits import set_text

    _run_change(ctx, newsletter, edition, at, by, set_text("headline", text))


@edit_app.command("subject")
@user_errors
def set_subject(
    ctx: typer.Context,
    newsletter: str = NEWSLETTER,
    text: str = typer.Argument(..., help="The subject line ('' for the template's)."),
    edition: int | None = EDITION,
    at: str | None = AT,
    by: str | None = BY,
) -> None:
    """The email's subject line for this edition."""
    from digest.edits import set_text

    _run_change(ctx, newsletter, edition, at, by, set_text("subject", text))


@edit_app.command("preheader")
@user_errors
def set_preheader(
    ctx: typer.Context,
    newsletter: str = NEWSLETTER,
    text: str = typer.Argument(..., help="Inbox preview text ('' to clear)."),
    edition: int | None = EDITION,
    at: str | None = AT,
    by: str | None = BY,
) -> None:
    """The inbox preview text shown after the subject."""
    from digest.edits import set_text

    _run_change(ctx, newsletter, edition, at, by, set_text("preheader", text))


@edit_app.command("note")
@user_errors
def set_note(
    ctx: typer.Context,
    newsletter: str = NEWSLETTER,
    text: str = typer.Argument(..., help="The editor's note (blank lines: paragraphs)."),
    edition: int | None = EDITION,
    at: str | None = AT,
    by: str | None = BY,
) -> None:
    """An editor's note at the top of the email and the archive page."""
    from digest.edits import set_text

    _run_change(ctx, newsletter, edition, at, by, set_text("note", text))


@edit_app.command("intro")
@user_errors
def set_intro(
    ctx: typer.Context,
    newsletter: str = NEWSLETTER,
    section: str = typer.Argument(..., help="Section (format) id."),
    text: str = typer.Argument(..., help="The section's intro for this edition."),
    edition: int | None = EDITION,
    at: str | None = AT,
    by: str | None = BY,
) -> None:
    """A section's intro for this edition."""
    from digest.edits import set_intro as change

    _run_change(ctx, newsletter, edition, at, by, change(section, text))


def _item_verb(name: str, help_text: str) -> None:
    def command(
        ctx: typer.Context,
        newsletter: str = NEWSLETTER,
        item: str = typer.Argument(..., help="Item id, as `digest draft` lists it."),
        edition: int | None = EDITION,
        at: str | None = AT,
        by: str | None = BY,
    ) -> None:
        from digest import edits

        verbs: dict[str, Callable[[str], Change]] = {
            "drop": edits.drop,
            "restore": edits.restore,
            "pin": edits.pin,
            "unpin": edits.unpin,
        }
        _run_change(ctx, newsletter, edition, at, by, verbs[name](item))

    command.__doc__ = help_text
    edit_app.command(name)(user_errors(command))


_item_verb("drop", "Leave an item out of this edition (restore brings it back).")
_item_verb("restore", "Bring a dropped item back.")
_item_verb("pin", "Pin an item to the top of its section.")
_item_verb("unpin", "Unpin an item.")


@edit_app.command("move")
@user_errors
def move(
    ctx: typer.Context,
    newsletter: str = NEWSLETTER,
    item: str = typer.Argument(..., help="Item id."),
    where: str = typer.Argument("up", help="up, down, top, bottom or a position from 1."),
    section: str | None = typer.Option(None, "--section", help="Move it into this section."),
    edition: int | None = EDITION,
    at: str | None = AT,
    by: str | None = BY,
) -> None:
    """Move an item up, down, to a position, or into another section."""
    from digest.edits import EditError, Where
    from digest.edits import move as change

    position: Where
    if where.isdigit():
        position = int(where)
    elif where in ("up", "down", "top", "bottom"):
        position = where  # type: ignore[assignment]
    else:
        raise EditError(f"position '{where}': use up, down, top, bottom or a number from 1")
    _run_change(ctx, newsletter, edition, at, by, change(item, position, section))


@edit_app.command("item")
@user_errors
def edit_item(
    ctx: typer.Context,
    newsletter: str = NEWSLETTER,
    item: str = typer.Argument(..., help="Item id."),
    title: str | None = typer.Option(None, "--title", help="New title."),
    excerpt: str | None = typer.Option(None, "--excerpt", help="New excerpt (text or HTML)."),
    edition: int | None = EDITION,
    at: str | None = AT,
    by: str | None = BY,
) -> None:
    """Correct an item's title or excerpt for this edition (the source is untouched)."""
    from digest.edits import edit_item as change

    _run_change(ctx, newsletter, edition, at, by, change(item, title=title, excerpt=excerpt))


@edit_app.command("add-url")
@user_errors
def add_url(
    ctx: typer.Context,
    newsletter: str = NEWSLETTER,
    section: str = typer.Argument(..., help="Section (format) id to add it to."),
    url: str = typer.Argument(..., help="The story's web address."),
    title: str | None = typer.Option(None, "--title", help="Title (default: from the page)."),
    excerpt: str | None = typer.Option(None, "--excerpt", help="Excerpt (default: the page's)."),
    edition: int | None = EDITION,
    at: str | None = AT,
    by: str | None = BY,
) -> None:
    """Add a story by its URL, filled in from the page's Open Graph / meta tags."""
    from digest.addurl import story_from_url
    from digest.edits import add_story

    settings = settings_from(ctx)
    filled = story_from_url(settings, url, section, now=parse_at(at))
    if filled.problem:
        console.print(f"[yellow]warning:[/] {filled.problem}", highlight=False)
    if title:
        filled.story.title = title
    if excerpt is not None:
        from digest.edits import _as_html
        from digest.sanitize import sanitize_html

        filled.story.summary = sanitize_html(_as_html(excerpt))
    _run_change(ctx, newsletter, edition, at, by, add_story(filled.story))


@edit_app.command("groups")
@user_errors
def groups(
    ctx: typer.Context,
    newsletter: str = NEWSLETTER,
    section: str = typer.Argument(..., help="A grouped section's id."),
    headings: list[str] = typer.Argument(None, help="Groups to show, in order (none: all)."),
    edition: int | None = EDITION,
    at: str | None = AT,
    by: str | None = BY,
) -> None:
    """Pick which groups (affiliates, states) of a grouped section appear, and their order."""
    from digest.edits import pick_groups

    _run_change(ctx, newsletter, edition, at, by, pick_groups(section, list(headings or [])))


@edit_app.command("history")
@user_errors
def history(
    ctx: typer.Context,
    newsletter: str = NEWSLETTER,
    edition: int | None = EDITION,
    at: str | None = AT,
) -> None:
    """Who changed what, when."""
    from digest.lifecycle import history as events

    settings = settings_from(ctx)
    check_newsletter(settings, newsletter)
    from digest.store import open_store

    store = open_store(settings.store.url)
    edition_id = draft_id(settings, store, newsletter, edition, parse_at(at))
    for entry in events(store, edition_id):
        moved = f" {entry.from_status or '∅'} → {entry.to_status}" if entry.to_status else ""
        detail = f": {entry.detail}" if entry.detail else ""
        line = f"{entry.at:%Y-%m-%d %H:%M} {entry.actor} {entry.action}{moved}{detail}"
        console.print(line, markup=False)
