"""collect → build → deliver → post: one function a stage, one function for a whole run.

Every stage is safe to repeat: collecting deduplicates, the edition is frozen once
built, and email and social posts go through ledgers that resume instead of repeating.
"""

from __future__ import annotations

from concurrent.futures import Executor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from digest.config import EmailChannel, Settings, SocialChannel
from digest.draft import ensure_draft
from digest.errors import DigestError
from digest.models import Edition, RunReport
from digest.store import Store, open_store
from digest.timing import Period, period_ending
from digest.triggers import latest_send_time

if TYPE_CHECKING:
    from digest.render import Renderer


def current_period(settings: Settings, newsletter_id: str, now: datetime) -> Period:
    """ "This edition": the period whose send time is next (see digest.draft.due).

    The latest send time counts while it is less than the newsletter's grace ago, so a
    run at (or just after) the send time sends that period's edition; otherwise it is
    the coming one, never a stale past period.
    """
    from digest.draft import due

    return due(settings, None, newsletter_id, now).period


def latest_period(settings: Settings, newsletter_id: str, now: datetime) -> Period:
    """The period of the latest scheduled run at or before ``now``."""

    newsletter = settings.newsletters[newsletter_id]
    end = latest_send_time(newsletter, now)
    if end is None:
        raise DigestError(f"newsletter '{newsletter_id}': its schedule has no run before {now}")
    return period_ending(end, newsletter.period, newsletter.timezone)


def collect_stage(
    settings: Settings,
    store: Store,
    report: RunReport,
    now: datetime,
    transport: Any = None,
    cpu_pool: Executor | None = None,
    renderer: Renderer | None = None,
) -> None:
    from digest.sources import collect

    collect(settings, store, report, transport=transport, now=now, cpu_pool=cpu_pool)
    refresh_drafts(settings, store, report, now, renderer)


def refresh_drafts(
    settings: Settings,
    store: Store,
    report: RunReport,
    now: datetime,
    renderer: Renderer | None = None,
) -> None:
    """A collect landed: each newsletter's next edition exists as a draft once it has
    anything to show, and every draft is recomposed (the staff's edits kept)."""
    from digest.draft import due, ensure_draft, recompose_drafts
    from digest.render import Renderer

    renderer = renderer or Renderer(settings)
    for newsletter_id in settings.newsletters:
        try:
            ensure_draft(
                settings,
                store,
                newsletter_id,
                due(settings, store, newsletter_id, now).period,
                now=now,
                actor="collect",
                renderer=renderer,
            )
        except DigestError as exc:
            report.warn(f"{newsletter_id}: draft not refreshed: {exc}")
    recompose_drafts(settings, store, now, renderer)


def email_channels(settings: Settings, newsletter_id: str) -> list[str]:
    return settings.channel_names(newsletter_id, EmailChannel)


def social_channels(settings: Settings, newsletter_id: str) -> list[str]:
    return settings.channel_names(newsletter_id, SocialChannel)


def deliver_stage(
    settings: Settings,
    store: Store,
    edition: Edition,
    report: RunReport,
    now: datetime,
    renderer: Renderer | None = None,
) -> None:
    """Send the edition by email, unless it still waits for approval."""
    from digest import lifecycle
    from digest.delivery import send_edition
    from digest.draft import approve, verify_frozen
    from digest.store.tables import EditionRow

    assert edition.id is not None
    with store.session() as session:
        row = session.get(EditionRow, edition.id)
        status = row.status if row else "missing"
    needs_approval = settings.newsletters[edition.newsletter].approval is not None
    if status == lifecycle.EditionStatus.DRAFT and not needs_approval:
        # no approval configured: the run at the send time approves (freezes) it
        approve(
            settings,
            store,
            edition.id,
            actor="schedule (no approval required)",
            now=now,
            renderer=renderer,
        )
    elif status in lifecycle.WAITING or status == lifecycle.EditionStatus.CANCELLED:
        report.warn(f"edition {edition.id} is {status}: waiting for approval, not sent")
        return
    with store.session() as session:
        row = session.get(EditionRow, edition.id)
        assert row is not None
        verify_frozen(row)
    for channel in email_channels(settings, edition.newsletter):
        send_edition(settings, store, edition.id, report, channel=channel, now=now)


def post_stage(
    settings: Settings,
    store: Store,
    edition: Edition,
    report: RunReport,
    dry_run: bool = False,
    renderer: Renderer | None = None,
) -> None:
    if not social_channels(settings, edition.newsletter):
        return
    from digest.social import post_edition

    post_edition(settings, store, edition, report, dry_run=dry_run, renderer=renderer)


def roster_stage(settings: Settings, store: Store, edition: Edition, report: RunReport) -> None:
    from digest.roster import add_to_report

    with store.session() as session:
        add_to_report(settings, session, edition, report)


def site_stage(
    settings: Settings,
    store: Store,
    newsletter_id: str,
    report: RunReport,
    renderer: Renderer | None = None,
) -> None:
    from digest.site import write_site

    path = write_site(settings, store, newsletter_id, renderer)
    report.outputs["archive"] = str(path)


def run_newsletter(
    settings: Settings,
    newsletter_id: str,
    *,
    now: datetime,
    period: Period | None = None,
    store: Store | None = None,
    transport: Any = None,
    collect: bool = True,
    deliver: bool = True,
    post: bool = True,
    report: RunReport | None = None,
    renderer: Renderer | None = None,
) -> RunReport:
    """One whole run of a newsletter for a period; safe to repeat after a crash.

    ``renderer`` is the run's one template environment (made here when not given): a
    caller running several newsletters passes the same one to each.
    """
    from digest.render import Renderer

    report = report or RunReport(newsletter=newsletter_id)
    renderer = renderer or Renderer(settings)
    owned = store is None
    store = store or open_store(settings.store.url)
    try:
        if collect:
            collect_stage(settings, store, report, now, transport, renderer=renderer)
        period = period or current_period(settings, newsletter_id, now)
        edition = ensure_draft(settings, store, newsletter_id, period, now=now, renderer=renderer)
        if edition is None:
            report.warn(f"{newsletter_id}: nothing new for {period.key}; no edition sent")
            return report
        report.sections = len(edition.sections)
        report.outputs["edition"] = f"{newsletter_id} #{edition.id} ({period.key})"
        roster_stage(settings, store, edition, report)
        if deliver:  # approves (freezes) it first when no approval is configured
            deliver_stage(settings, store, edition, report, now, renderer)
        site_stage(settings, store, newsletter_id, report, renderer)
        if post:
            post_stage(settings, store, edition, report, renderer=renderer)
        return report
    finally:
        if owned:
            store.dispose()
