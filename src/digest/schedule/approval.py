"""Approval: reviewers see a preview before the send time and approve or hold it.

Links in the preview email are signed (``approve`` purpose tokens, timed) and point at
``{site_url}/staff/approve/<token>``. That page (digest.web.approval) names the edition and
offers Approve and Hold buttons: opening the link decides nothing (mail scanners open
links), the POST does, through :func:`decide_by_link`. The two links of one email share
a nonce, so the email decides once (single use); a link expires at the send time plus
the newsletter's grace. ``digest approve`` and the desk call :func:`approve` /
:func:`hold` directly.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from digest.config import Settings
from digest.delivery.tokens import BadToken, make_token, read_token
from digest.errors import DigestError
from digest.logs import event
from digest.notify import send_notice
from digest.store import Store
from digest.store.tables import EditionRow, SpentTokenRow, SubscriptionRow

log = logging.getLogger("digest.schedule.approval")

Action = Literal["approve", "hold"]
# An edition may be approved or held only before it starts going out (digest.lifecycle).
DECIDABLE = frozenset({"draft", "approved", "held"})


class ApprovalError(DigestError):
    """The edition cannot be approved or held (unknown, or already sending/sent)."""


@dataclass(frozen=True)
class ApprovalLink:
    edition_id: int
    action: Action
    reviewer: str
    newsletter: str
    nonce: str = ""  # shared by the approve and hold links of one email

    @property
    def spent_key(self) -> str:
        return hashlib.sha256(f"approve:{self.nonce}".encode()).hexdigest()


def link_max_age(settings: Settings, newsletter: str) -> timedelta:
    """Links work from the preview until the send time plus the newsletter's grace."""
    config = settings.newsletters[newsletter]
    lead = config.approval.lead_time if config.approval else timedelta(hours=2)
    return lead + config.grace


def make_link(
    settings: Settings,
    edition_id: int,
    newsletter: str,
    action: Action,
    reviewer: str,
    nonce: str | None = None,
) -> str:
    token = make_token(
        settings.signing_keys(),
        "approve",
        {"e": edition_id, "a": action, "r": reviewer, "n": newsletter, "j": nonce or _nonce()},
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
    nonce = str(data.get("j") or hashlib.sha256(token.encode()).hexdigest())
    try:
        return ApprovalLink(int(data["e"]), data["a"], str(data["r"]), newsletter, nonce)
    except (KeyError, TypeError, ValueError):
        raise BadToken("this link is not valid") from None


def _nonce() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class SpentLink:
    at: datetime
    by: str | None


def link_spent(store: Store, link: ApprovalLink) -> SpentLink | None:
    """When (and as what) this email's links were already used, or None."""
    with store.session() as session:
        row = session.get(SpentTokenRow, link.spent_key)
        return SpentLink(row.spent_at, row.spent_by) if row is not None else None


def check_reviewer(settings: Settings, link: ApprovalLink) -> None:
    """A link works only while its reviewer is still one of the newsletter's reviewers."""
    policy = settings.newsletters[link.newsletter].approval
    if policy is None or link.reviewer not in policy.reviewers:
        raise BadToken("this link's reviewer no longer reviews this newsletter")


def decide_by_link(
    settings: Settings, store: Store, token: str, action: Action, now: datetime
) -> ApprovalLink:
    """Approve or hold from a reviewer's emailed link: once per email, before it expires."""
    link = read_link(settings, token)
    check_reviewer(settings, link)
    try:
        with store.session() as session:
            session.add(
                SpentTokenRow(
                    token_hash=link.spent_key, purpose="approve", spent_at=now, spent_by=action
                )
            )
    except IntegrityError:
        raise BadToken("this link was already used") from None
    decide = approve if action == "approve" else hold
    try:
        decide(settings, store, link.edition_id, link.reviewer, now)
    except ApprovalError:
        with store.session() as session:  # nothing was decided: the link stays usable
            session.execute(delete(SpentTokenRow).where(SpentTokenRow.token_hash == link.spent_key))
        raise
    return link


def approve(settings: Settings, store: Store, edition_id: int, by: str, now: datetime) -> None:
    """Approve (freeze) an edition: it goes out at its send time (or at once if passed)."""
    from digest.draft import approve as freeze

    try:
        row = freeze(settings, store, edition_id, actor=by, now=now)
    except DigestError as exc:
        raise ApprovalError(str(exc)) from None
    event(log, "edition.approved", newsletter=row.newsletter, edition=edition_id, by=by)


def hold(settings: Settings, store: Store, edition_id: int, by: str, now: datetime) -> None:
    """Mark an edition held: it is not sent until someone approves it."""
    from digest.draft import decide
    from digest.lifecycle import EditionStatus

    try:
        row = decide(store, edition_id, EditionStatus.HELD, actor=by, now=now)
    except DigestError as exc:
        raise ApprovalError(str(exc)) from None
    event(log, "edition.held", newsletter=row.newsletter, edition=edition_id, by=by)


def edition_status(store: Store, edition_id: int) -> str | None:
    with store.session() as session:
        return session.scalar(select(EditionRow.status).where(EditionRow.id == edition_id))


def request_approval(
    settings: Settings, store: Store, newsletter: str, edition_id: int, send_at: datetime
) -> int:
    """Email each reviewer a preview with their own approve/hold links; return how many.

    An edition already approved (or already going out) gets no preview: there is
    nothing left to decide.
    """
    config = settings.newsletters[newsletter]
    if config.approval is None:
        return 0
    with store.session() as session:
        edition = session.get(EditionRow, edition_id)
        if edition is None:
            raise ApprovalError(f"edition {edition_id} does not exist")
        subject, text, html, status = edition.subject, edition.text, edition.html, edition.status
    if status not in ("draft", "held"):
        event(log, "approval.not_needed", newsletter=newsletter, edition=edition_id, status=status)
        return 0
    when = local_time(settings, newsletter, send_at)
    for reviewer in config.approval.reviewers:
        nonce = _nonce()
        approve_url = make_link(settings, edition_id, newsletter, "approve", reviewer, nonce)
        hold_url = make_link(settings, edition_id, newsletter, "hold", reviewer, nonce)
        intro = (
            f"'{config.title}' is due to go out {when}.\n"
            f"Approve: {approve_url}\nHold: {hold_url}\n"
            "(each link opens a page with Approve and Hold buttons; the email decides once)\n"
            f"{if_nobody_decides(settings, store, newsletter, send_at, status)}\n"
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


def local_time(settings: Settings, newsletter: str, when: datetime) -> str:
    """A send time as its readers' clocks show it, e.g. 'Friday 20 November 2026 16:00 EST'."""
    zone = ZoneInfo(settings.newsletters[newsletter].timezone)
    return when.astimezone(zone).strftime("%A %d %B %Y %H:%M %Z")


def confirmed_count(settings: Settings, store: Store, newsletter: str) -> int:
    audience = settings.audience_of(newsletter)
    with store.session() as session:
        count = session.scalar(
            select(func.count()).where(
                SubscriptionRow.list_name == audience, SubscriptionRow.status == "confirmed"
            )
        )
    return int(count or 0)


def if_nobody_decides(
    settings: Settings, store: Store, newsletter: str, send_at: datetime, status: str = "draft"
) -> str:
    """Exactly what the scheduler does at the send time if no reviewer decides."""
    config = settings.newsletters[newsletter]
    assert config.approval is not None
    when = local_time(settings, newsletter, send_at)
    last = local_time(settings, newsletter, send_at + config.grace)
    if status == "held":
        return (
            f"It is held: it will not go out at {when} unless someone approves it. Approved by "
            f"{last}, it goes out at the scheduler's next check; after that only by hand."
        )
    if config.approval.on_timeout == "send":
        count = confirmed_count(settings, store, newsletter)
        return (
            f"If nobody decides by {when}, it will be sent as it is at that time to the "
            f"{count} confirmed subscriber{'s' if count != 1 else ''} of '{config.title}'."
        )
    return (
        f"If nobody decides by {when}, it will NOT be sent: it is held. Approved by {last}, "
        "it goes out at the scheduler's next check; after that only by hand."
    )


def _preview_html(intro: str, approve_url: str, hold_url: str, html: str) -> str | None:
    if not html:
        return None
    from html import escape

    lines = intro.splitlines()
    banner = (
        '<div style="padding:12px;border:2px solid #b00;font-family:sans-serif">'
        f"<p>{escape(lines[0])}</p>"
        f'<p><a href="{escape(approve_url)}">Approve</a> · '
        f'<a href="{escape(hold_url)}">Hold</a></p>'
        f"<p>{escape(lines[-1])}</p></div>"
    )
    return banner + html
