"""Approval: reviewers see a preview before the send time and approve or hold it.

Links in the preview email are signed (``approve`` purpose tokens, timed) and point at
``{site_url}/staff/approve/<token>``; the web app reads them with :func:`read_link` and
calls :func:`approve` or :func:`hold`. ``digest approve`` calls the same functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select

from digest.config import Settings
from digest.delivery.tokens import BadToken, make_token, read_token
from digest.errors import DigestError
from digest.logs import event
from digest.notify import send_notice
from digest.store import Store
from digest.store.tables import EditionRow

log = logging.getLogger("digest.schedule.approval")

Action = Literal["approve", "hold"]
# An edition may be approved or held only before it starts going out.
DECIDABLE = frozenset({"draft", "approved", "held"})


class ApprovalError(DigestError):
    """The edition cannot be approved or held (unknown, or already sending/sent)."""


@dataclass(frozen=True)
class ApprovalLink:
    edition_id: int
    action: Action
    reviewer: str
    newsletter: str


def link_max_age(settings: Settings, newsletter: str) -> timedelta:
    """Links work from the preview until the send time plus the newsletter's grace."""
    config = settings.newsletters[newsletter]
    lead = config.approval.lead_time if config.approval else timedelta(hours=2)
    return lead + config.grace


def make_link(
    settings: Settings, edition_id: int, newsletter: str, action: Action, reviewer: str
) -> str:
    token = make_token(
        settings.signing_keys(),
        "approve",
        {"e": edition_id, "a": action, "r": reviewer, "n": newsletter},
    )
    return f"{settings.organization.site_url.rstrip('/')}/staff/approve/{token}"


def read_link(settings: Settings, token: str) -> ApprovalLink:
    """Decode an approval token; raise BadToken if forged, for another purpose or expired."""
    unchecked = read_token(settings.signing_keys(), "approve", token, max_age=timedelta(days=3650))
    newsletter = str(unchecked.get("n", ""))
    if newsletter not in settings.newsletters or unchecked.get("a") not in ("approve", "hold"):
        raise BadToken("this link is not valid")
    data = read_token(
        settings.signing_keys(), "approve", token, max_age=link_max_age(settings, newsletter)
    )
    return ApprovalLink(int(data["e"]), data["a"], str(data["r"]), newsletter)


def _decide(store: Store, edition_id: int, status: str, by: str, now: datetime) -> EditionRow:
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        if row is None:
            raise ApprovalError(f"edition {edition_id} does not exist")
        if row.status not in DECIDABLE:
            raise ApprovalError(
                f"edition {edition_id} of '{row.newsletter}' is already {row.status}; "
                "it can no longer be approved or held"
            )
        row.status = status
        row.approved_by = by
        row.approved_at = now
        session.flush()
        session.expunge(row)
        return row


def approve(settings: Settings, store: Store, edition_id: int, by: str, now: datetime) -> None:
    """Mark an edition approved: it goes out at its send time (or at once if that has passed)."""
    row = _decide(store, edition_id, "approved", by, now)
    event(log, "edition.approved", newsletter=row.newsletter, edition=edition_id, by=by)


def hold(settings: Settings, store: Store, edition_id: int, by: str, now: datetime) -> None:
    """Mark an edition held: it is not sent until someone approves it."""
    row = _decide(store, edition_id, "held", by, now)
    event(log, "edition.held", newsletter=row.newsletter, edition=edition_id, by=by)


def edition_status(store: Store, edition_id: int) -> str | None:
    with store.session() as session:
        return session.scalar(select(EditionRow.status).where(EditionRow.id == edition_id))


def request_approval(
    settings: Settings, store: Store, newsletter: str, edition_id: int, send_at: datetime
) -> int:
    """Email each reviewer a preview with their own approve/hold links; return how many."""
    config = settings.newsletters[newsletter]
    if config.approval is None:
        return 0
    with store.session() as session:
        edition = session.get(EditionRow, edition_id)
        if edition is None:
            raise ApprovalError(f"edition {edition_id} does not exist")
        subject, text, html = edition.subject, edition.text, edition.html
    when = send_at.astimezone().strftime("%A %d %B %Y %H:%M %Z")
    default = "be sent anyway" if config.approval.on_timeout == "send" else "be held"
    for reviewer in config.approval.reviewers:
        approve_url = make_link(settings, edition_id, newsletter, "approve", reviewer)
        hold_url = make_link(settings, edition_id, newsletter, "hold", reviewer)
        intro = (
            f"'{config.title}' is due to go out {when}.\n"
            f"Approve: {approve_url}\nHold: {hold_url}\n"
            f"If nobody decides by then, it will {default}.\n"
        )
        send_notice(
            settings,
            reviewer,
            f"[Preview] {subject}",
            intro + "\n" + "-" * 60 + "\n\n" + text,
            _preview_html(intro, approve_url, hold_url, html),
            newsletter=newsletter,
        )
    event(
        log,
        "approval.requested",
        newsletter=newsletter,
        edition=edition_id,
        reviewers=len(config.approval.reviewers),
    )
    return len(config.approval.reviewers)


def _preview_html(intro: str, approve_url: str, hold_url: str, html: str) -> str | None:
    if not html:
        return None
    from html import escape

    banner = (
        '<div style="padding:12px;border:2px solid #b00;font-family:sans-serif">'
        f"<p>{escape(intro.splitlines()[0])}</p>"
        f'<p><a href="{escape(approve_url)}">Approve</a> · '
        f'<a href="{escape(hold_url)}">Hold</a></p></div>'
    )
    return banner + html
