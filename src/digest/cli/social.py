"""`digest post`: announce an edition on the newsletter's social channels (or show how)."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING

import typer

from digest.cli.app import app, console, require_signing_key, settings_from, user_errors
from digest.errors import DigestError
from digest.models import Edition, Post, RunReport

if TYPE_CHECKING:
    from digest.config import Settings
    from digest.store import Store

# X pay-per-use prices (2026): a post, and a post carrying a URL.
X_POST_COST = 0.015
X_POST_WITH_URL_COST = 0.20


@app.command()
@user_errors
def post(
    ctx: typer.Context,
    newsletter: str = typer.Argument(..., help="Newsletter id from config.yaml."),
    edition_id: int | None = typer.Option(None, "--edition", help="Edition id (default: latest)."),
    on: str | None = typer.Option(
        None, "--date", help="The edition whose period ends on this date (YYYY-MM-DD)."
    ),
    channel: str | None = typer.Option(None, "--channel", help="Only this social channel."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the posts; post nothing."),
    as_json: bool = typer.Option(False, "--json", help="With --dry-run: print JSON."),
) -> None:
    """Post an edition's summary to Bluesky and X (or write the social outbox)."""
    from digest.social import post_edition, social_channel_names
    from digest.store import open_store

    settings = settings_from(ctx)
    if not dry_run:
        require_signing_key(settings, "post")
    if newsletter not in settings.newsletters:
        known = ", ".join(sorted(settings.newsletters)) or "none"
        raise DigestError(f"unknown newsletter '{newsletter}' (configured: {known})")
    names = social_channel_names(settings, newsletter)
    if channel is not None and channel not in names:
        raise DigestError(
            f"--channel: '{channel}' is not a social channel of {newsletter} "
            f"(social channels: {', '.join(names) or 'none'})"
        )
    if not names:
        raise DigestError(f"newsletter '{newsletter}' has no social channels (outbox, bluesky, x)")
    store = open_store(settings.store.url)
    edition = find_edition(settings, store, newsletter, edition_id, on)
    report = RunReport(newsletter=newsletter)
    posts = post_edition(settings, store, edition, report, dry_run=dry_run, only=channel)
    if dry_run and as_json:
        typer.echo(json.dumps([_public(p) for p in posts], ensure_ascii=False, indent=2))
    elif dry_run:
        _print_posts(posts)
        _print_x_costs(settings, edition, posts)
    else:
        console.print(
            f"{newsletter}, edition #{edition.id}: {report.posts} posts made or written",
            markup=False,
            emoji=False,
        )
        for label, where in report.outputs.items():
            console.print(f"  {label}: {where}", highlight=False, markup=False, emoji=False)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if report.social_failed:
        typer.echo(
            f"error: {report.social_failed} social channel(s) did not fully post; "
            "rerun to finish (posted parts are not repeated)",
            err=True,
        )
        raise typer.Exit(1)


def find_edition(
    settings: Settings, store: Store, newsletter: str, edition_id: int | None, on: str | None
) -> Edition:
    """The stored edition asked for: by id, by period end date, or the latest."""
    from sqlalchemy import select

    from digest.editions import edition_from_row
    from digest.store.tables import EditionRow

    query = select(EditionRow).where(EditionRow.newsletter == newsletter)
    if edition_id is not None:
        query = query.where(EditionRow.id == edition_id)
    rows = []
    with store.session() as session:
        rows = list(session.scalars(query.order_by(EditionRow.period_end.desc())))
        if on is not None:
            day = _parse_date(on)
            rows = [r for r in rows if r.period_end.date() == day]
        if not rows:
            raise DigestError(_missing(newsletter, edition_id, on))
        return edition_from_row(rows[0], settings.newsletters[newsletter].timezone)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DigestError(f"--date: '{value}' is not a date like 2026-11-20") from None


def _missing(newsletter: str, edition_id: int | None, on: str | None) -> str:
    which = f"#{edition_id}" if edition_id is not None else f"for {on}" if on else "yet"
    return f"no edition of '{newsletter}' {which}; build one first with 'digest build {newsletter}'"


def _public(post: Post) -> dict[str, object]:
    data = post.to_dict()
    return {k: data[k] for k in ("platform", "part", "text", "facets", "embed", "langs")}


def _print_posts(posts: list[Post]) -> None:
    from digest.social.limits import rules_for

    if not posts:
        console.print("Nothing would be posted.")
    for item in posts:
        rules = rules_for(item.platform)
        console.rule(f"{item.platform} · part {item.part} · {rules.describe(item.text)}")
        console.print(item.text, markup=False, highlight=False)
        for facet in item.facets:
            shown = item.text.encode()[facet.byte_start : facet.byte_end].decode()
            console.print(f"  {facet.kind}: '{shown}' → {facet.value}", markup=False)
        if item.embed is not None:
            embed = item.embed
            console.print(f"  card: {embed.title} <{embed.uri}>", markup=False)
            if embed.thumb_url:
                console.print(f"  image: {embed.thumb_url} (alt: {embed.thumb_alt})", markup=False)


def x_cost(posts: list[Post]) -> float:
    """X's pay-per-use price of posting these: a post with a URL costs far more."""
    from digest.social.limits import URL

    return sum(X_POST_WITH_URL_COST if URL.search(p.text) else X_POST_COST for p in posts)


def _print_x_costs(settings: Settings, edition: Edition, posts: list[Post]) -> None:
    """The X cost of this announcement, and of the other shapes, so staff can choose."""
    from digest.social.compose import plan

    x_posts = [p for p in posts if p.platform == "x"]
    if not x_posts:
        return
    console.print(
        f"Estimated X cost: ${x_cost(x_posts):.2f} for {len(x_posts)} posts "
        f"(${X_POST_COST} a post, ${X_POST_WITH_URL_COST} with a URL)",
        markup=False,
        emoji=False,
    )
    configured = settings.newsletters[edition.newsletter].social.shape
    for shape in ("link_card", "thread", "per_item"):
        if shape != configured:
            other = plan(settings, edition, "x", shape=shape).posts
            console.print(
                f"  as {shape}: ${x_cost(other):.2f} for {len(other)} posts",
                markup=False,
                emoji=False,
            )
