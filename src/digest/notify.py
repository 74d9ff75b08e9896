"""Notices to staff and reviewers (failed runs, approval previews) through the email channel.

A notice goes out through the newsletter's email channel (a Maildir outbox or SMTP), or the
first email channel configured when no newsletter is named.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from digest.config import Settings
from digest.delivery.system import MailNotSent, send_system_message, system_message
from digest.errors import DigestError
from digest.logs import event
from digest.store import Store
from digest.store.tables import DeliveryRow, EditionRow, SocialPostRow

log = logging.getLogger("digest.notify")


class NoticeError(DigestError):
    """A notice could not be sent (no email channel, or the channel failed)."""


def send_notice(
    settings: Settings,
    to: str | list[str],
    subject: str,
    text: str,
    html: str | None = None,
    *,
    newsletter: str | None = None,
) -> None:
    """Send one staff/reviewer notice through the email channel; raise NoticeError on failure.

    The newsletter's email channel is used, else the first one configured.
    """
    message = system_message(settings, to=to, subject=subject, text=text, html=html)
    try:
        send_system_message(settings, message, newsletter=newsletter)
    except (MailNotSent, OSError) as exc:
        raise NoticeError(f"notice '{subject}' to {message['To']} not sent: {exc}") from exc
    event(log, "notice.sent", to=message["To"], subject=subject)


def sent_summary(store: Store, edition_id: int | None) -> str:
    """What the delivery and social ledgers say was and was not sent for an edition."""
    if edition_id is None:
        return "No edition was built, so nothing was sent."
    with store.session() as session:
        deliveries = dict(
            session.execute(
                select(DeliveryRow.status, func.count())
                .where(DeliveryRow.edition_id == edition_id)
                .group_by(DeliveryRow.status)
            ).all()
        )
        posts = session.execute(
            select(SocialPostRow.platform, SocialPostRow.status, func.count())
            .where(SocialPostRow.edition_id == edition_id)
            .group_by(SocialPostRow.platform, SocialPostRow.status)
        ).all()
    lines = [f"Edition {edition_id}:"]
    if deliveries:
        total = sum(deliveries.values())
        counts = ", ".join(f"{status} {count}" for status, count in sorted(deliveries.items()))
        lines.append(f"  email: {total} recipients ({counts})")
    else:
        lines.append("  email: no deliveries recorded (nothing was emailed)")
    if posts:
        for platform, status, count in posts:
            lines.append(f"  {platform}: {count} post(s) {status}")
    else:
        lines.append("  social: no posts recorded")
    return "\n".join(lines)


def resume_command(newsletter: str, period_key: str, edition_id: int | None) -> str:
    """The real command that resumes a run (or only its email, once an edition exists)."""
    if edition_id is not None:
        return f"digest send {newsletter} --edition {edition_id}"
    return f"digest run {newsletter} --at {period_key}"


def notify_deferred(settings: Settings, store: Store, edition_id: int, now: datetime) -> bool:
    """Tell staff, once per edition, that some copies are deferred and how it goes on.

    Returns True when the notice went out now; False when it had gone before, there is
    no staff address, or it could not be sent (logged).
    """
    staff = settings.organization.staff_email
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        if row is None or row.delivery_noticed_at is not None or not staff:
            return False
        newsletter, period_key, until = row.newsletter, row.period_key, row.deliver_until
        row.delivery_noticed_at = now  # claimed first: two senders never both notify
    title = settings.newsletters[newsletter].title if newsletter in settings.newsletters else ""
    deadline = f"{until:%Y-%m-%d %H:%M} UTC" if until else "its deadline"
    text = "\n".join(
        [
            f"'{title}' ({newsletter}, period {period_key}) is still being delivered: some "
            "recipients' servers answered 'try again later' (or could not be reached).",
            "",
            sent_summary(store, edition_id),
            "",
            f"Deferred copies are retried automatically by 'digest schedule' until {deadline}; "
            "after that they count as failed. Nobody is mailed twice.",
            f"To retry now: {resume_command(newsletter, period_key, edition_id)}",
        ]
    )
    try:
        send_notice(
            settings,
            staff,
            f"[digest] Deferred: {title} ({period_key})",
            text,
            newsletter=newsletter,
        )
    except NoticeError as exc:
        event(log, "notice.failed", logging.ERROR, newsletter=newsletter, error=str(exc))
        return False
    return True


def notify_failure(
    settings: Settings,
    store: Store,
    *,
    newsletter: str,
    run_id: int,
    period_key: str,
    error: str,
    edition_id: int | None,
    report: dict[str, Any] | None = None,
) -> bool:
    """Tell organization.staff_email that a run failed and what was and was not sent.

    Returns False (and logs) when there is no staff address or the notice itself failed:
    a failing notice must never hide the original failure.
    """
    staff = settings.organization.staff_email
    if not staff:
        event(log, "notice.no_staff_email", logging.WARNING, newsletter=newsletter, run=run_id)
        return False
    title = settings.newsletters[newsletter].title
    lines = [
        f"The scheduled run of '{title}' ({newsletter}) for the period ending {period_key} failed.",
        "",
        f"Run: {run_id}",
        f"Error: {error}",
        "",
        sent_summary(store, edition_id),
    ]
    warnings = (report or {}).get("warnings") or []
    if warnings:
        lines += ["", "Warnings:", *(f"  - {w}" for w in warnings)]
    lines += [
        "",
        "Nothing is sent twice: fix the cause, then run "
        f"'{resume_command(newsletter, period_key, edition_id)}' (or let 'digest schedule' "
        "retry it within the grace period) to resume where it stopped.",
    ]
    try:
        send_notice(
            settings,
            staff,
            f"[digest] Run failed: {title} ({period_key})",
            "\n".join(lines),
            newsletter=newsletter,
        )
    except NoticeError as exc:
        event(log, "notice.failed", logging.ERROR, newsletter=newsletter, error=str(exc))
        return False
    return True
