"""What the staff desk shows: newsletters, drafts awaiting approval, runs, social posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from digest.config import Settings
from digest.store import Store
from digest.store.tables import EditionRow, RunRow, SocialPostRow, SubscriptionRow
from digest.triggers import next_send_time


@dataclass(frozen=True)
class NewsletterStatus:
    id: str
    title: str
    schedule: str
    timezone: str
    next_run: datetime | None
    last_status: str | None
    last_finished: datetime | None
    confirmed: int
    pending: int


@dataclass(frozen=True)
class Dashboard:
    newsletters: list[NewsletterStatus]
    drafts: list[EditionRow]
    runs: list[RunRow]
    posts: list[tuple[SocialPostRow, str]]  # (post, newsletter)


def next_run(settings: Settings, newsletter: str, now: datetime) -> datetime | None:
    """When the schedule sends next (the scheduler's own rule), in the newsletter's zone."""
    config = settings.newsletters[newsletter]
    fire = next_send_time(config, now)
    return fire.astimezone(ZoneInfo(config.timezone)) if fire is not None else None


def subscriber_counts(store: Store) -> dict[tuple[str, str], int]:
    """(list name, status) → number of subscriptions."""
    with store.session() as session:
        rows = session.execute(
            select(SubscriptionRow.list_name, SubscriptionRow.status, func.count()).group_by(
                SubscriptionRow.list_name, SubscriptionRow.status
            )
        ).all()
    return {(row[0], row[1]): int(row[2]) for row in rows}


def load_dashboard(
    settings: Settings, store: Store, now: datetime, *, limit: int = 20
) -> Dashboard:
    counts = subscriber_counts(store)
    with store.session() as session:
        last_runs: dict[str, RunRow] = {}
        for run in session.scalars(select(RunRow).order_by(RunRow.id.desc())):
            last_runs.setdefault(run.newsletter, run)
        drafts = list(
            session.scalars(
                select(EditionRow)
                .where(EditionRow.status == "draft")
                .order_by(EditionRow.created_at.desc())
            )
        )
        runs = list(session.scalars(select(RunRow).order_by(RunRow.id.desc()).limit(limit)))
        posts = [
            (post, newsletter)
            for post, newsletter in session.execute(
                select(SocialPostRow, EditionRow.newsletter)
                .join(EditionRow, EditionRow.id == SocialPostRow.edition_id)
                .where(SocialPostRow.status == "posted")
                .order_by(SocialPostRow.posted_at.desc())
                .limit(limit)
            ).all()
        ]
    newsletters = []
    for name, config in settings.newsletters.items():
        audience = settings.audience_of(name)
        last = last_runs.get(name)
        newsletters.append(
            NewsletterStatus(
                id=name,
                title=config.title,
                schedule=config.schedule,
                timezone=config.timezone,
                next_run=next_run(settings, name, now),
                last_status=last.status if last else None,
                last_finished=(last.finished_at or last.started_at) if last else None,
                confirmed=counts.get((audience, "confirmed"), 0),
                pending=counts.get((audience, "pending"), 0),
            )
        )
    return Dashboard(newsletters, drafts, runs, posts)


def run_error_summary(run: RunRow) -> str:
    """The run's error, or the problems its report lists (failed sources, sends)."""
    if run.error:
        return run.error
    report: Any = run.report or {}
    problems = report.get("problems") or report.get("errors") if isinstance(report, dict) else None
    if isinstance(problems, list):
        return "; ".join(str(p) for p in problems[:5])
    return ""
