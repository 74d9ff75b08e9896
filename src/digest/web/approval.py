"""The reviewer's links from the preview email: ``/staff/approve/<token>``.

GET shows a page naming the edition, what happens at the send time if nobody decides,
and Approve / Hold buttons; it changes nothing, because mail scanners open every link.
The POST decides, once per email (digest.schedule.approval.decide_by_link). The signed
token is the only authority, as for the subscriber links: no sign-in is needed.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from digest.delivery.tokens import BadToken
from digest.schedule import approval
from digest.schedule.approval import ApprovalError, ApprovalLink
from digest.store import Store
from digest.store.tables import EditionRow, RunRow
from digest.web.pages import page
from digest.web.state import now_of, settings_of, store_of

router = APIRouter(prefix="/staff")


def _bad_link(request: Request, message: str, status_code: int) -> HTMLResponse:
    return page(
        request,
        "staff_approve.html.j2",
        {"problem": message[:1].upper() + message[1:] + "."},
        status_code=status_code,
    )


def send_time(store: Store, edition: EditionRow) -> datetime:
    """The run's scheduled time for this edition, else its period's end (the send time)."""
    with store.session() as session:
        scheduled = session.scalar(
            select(RunRow.scheduled_for).where(RunRow.edition_id == edition.id).limit(1)
        )
    return scheduled or edition.period_end


def _context(request: Request, link: ApprovalLink, token: str) -> dict[str, object] | None:
    settings, store = settings_of(request), store_of(request)
    with store.session() as session:
        edition = session.get(EditionRow, link.edition_id)
        if edition is None or edition.newsletter != link.newsletter:
            return None
        session.expunge(edition)
    when = send_time(store, edition)
    return {
        "token": token,
        "link": link,
        "edition": edition,
        "newsletter": settings.newsletters[link.newsletter].title,
        "send_at": approval.local_time(settings, link.newsletter, when),
        "if_nobody": approval.if_nobody_decides(
            settings, store, link.newsletter, when, edition.status
        ),
        "decidable": edition.status in approval.DECIDABLE,
        "spent": approval.link_spent(store, link),
    }


def _read(request: Request, token: str) -> ApprovalLink:
    settings = settings_of(request)
    link = approval.read_link(settings, token)
    approval.check_reviewer(settings, link)
    return link


@router.get("/approve/{token}", response_class=HTMLResponse)
def approve_page(request: Request, token: str) -> HTMLResponse:
    try:
        link = _read(request, token)
    except BadToken as exc:
        return _bad_link(request, str(exc), 410 if "expired" in str(exc) else 400)
    context = _context(request, link, token)
    if context is None:
        return _bad_link(request, "this edition no longer exists", 404)
    return page(request, "staff_approve.html.j2", context)


@router.post("/approve/{token}", response_class=HTMLResponse)
async def approve_submit(request: Request, token: str) -> HTMLResponse:
    form = await request.form()
    action = str(form.get("action", ""))
    if action not in ("approve", "hold"):
        return _bad_link(request, "choose Approve or Hold", 400)
    try:
        link = await run_in_threadpool(
            approval.decide_by_link,
            settings_of(request),
            store_of(request),
            token,
            action,  # type: ignore[arg-type]
            now_of(request),
        )
    except BadToken as exc:
        message = str(exc)
        code = 409 if "already used" in message else 410 if "expired" in message else 400
        return _bad_link(request, message, code)
    except ApprovalError as exc:
        return _bad_link(request, str(exc), 409)
    context = _context(request, link, token)
    if context is None:
        return _bad_link(request, "this edition no longer exists", 404)
    return page(request, "staff_approve.html.j2", {**context, "done": action})
