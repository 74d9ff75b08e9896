"""The desk's edit page: the next edition's draft with every editorial control.

Every control is a plain HTML form (POST with the session's CSRF token, see
digest.web.desk); each goes through digest.edits, the same code as ``digest edit``, and
answers with a redirect back to the page (post/redirect/get), whose previews then show
the recomposed draft. The form carries the draft's ``revision``: when someone else
changed the draft since the page was loaded the page says so (their edits and yours are
both kept; the same field keeps the last write).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from digest import edits
from digest.draft import audience_size, due, ensure_draft
from digest.errors import DigestError
from digest.lifecycle import history
from digest.overlay import EDITABLE_TEXT
from digest.web.desk import checked_post, signed_in
from digest.web.pages import page
from digest.web.state import now_of, settings_of, store_of

router = APIRouter(prefix="/desk")

NOTICES = {
    "edited": "Saved. The previews show the change.",
    "others": "Saved. Someone else also changed this draft since you loaded the page; "
    "their changes are kept too — check the previews.",
}


def _renderer(request: Request) -> Any:
    """One Renderer per app (its templates compiled once), made on first use."""
    renderer = getattr(request.app.state, "editor_renderer", None)
    if renderer is None:
        from digest.render import Renderer

        renderer = request.app.state.editor_renderer = Renderer(settings_of(request))
    return renderer


def _message(request: Request, title: str, message: str, back: str, status: int) -> HTMLResponse:
    return page(
        request,
        "message.html.j2",
        {"title": title, "message": message, "back": back},
        status_code=status,
    )


@router.get("/next/{newsletter}")
def next_edition(request: Request, newsletter: str) -> Response:
    """The newsletter's next edition due: its draft made if needed, then its edit page."""
    signed_in(request)
    settings, store, now = settings_of(request), store_of(request), now_of(request)
    if newsletter not in settings.newsletters:
        return _message(
            request, "Not found", f"There is no newsletter '{newsletter}'.", "/desk/", 404
        )
    coming = due(settings, store, newsletter, now)
    edition = ensure_draft(settings, store, newsletter, coming.period, now=now, actor="desk")
    if edition is None or edition.id is None:
        return _message(
            request,
            "Nothing to edit yet",
            f"The next edition of {settings.newsletters[newsletter].title} has nothing to show "
            "yet; it appears here after the next collect.",
            "/desk/",
            404,
        )
    return RedirectResponse(f"/desk/editions/{edition.id}/edit", status_code=303)


@dataclass(frozen=True)
class Plan:
    """What will happen and when, in words."""

    when: str
    audience: int
    needs_approval: bool
    words: str


def plan_for(request: Request, view: edits.DraftView, send_at: datetime) -> Plan:
    from zoneinfo import ZoneInfo

    settings = settings_of(request)
    newsletter = settings.newsletters[view.newsletter]
    local = send_at.astimezone(ZoneInfo(newsletter.timezone))
    when = f"{local:%A %B} {local.day}, {local:%I:%M %p %Z}".replace(" 0", " ")
    when = when.replace(" AM", " am").replace(" PM", " pm")
    audience = audience_size(settings, store_of(request), view.newsletter, now_of(request))
    people = f"{audience:,} subscriber{'s' if audience != 1 else ''}"
    policy = newsletter.approval
    if view.status == "approved":
        words = f"Approved: goes out {when} to {people}."
    elif view.status in ("sending", "paused", "sent"):
        words = f"{view.status.capitalize()}: to {people}."
    elif view.status == "held":
        words = f"Held: not sent until someone approves it (due {when}, {people})."
    elif policy is None:
        words = f"Goes out {when} to {people} (no approval needed; edits until then)."
    else:
        fallback = "sent anyway" if policy.on_timeout == "send" else "held"
        words = (
            f"Goes out {when} to {people} once approved; if nobody approves by then "
            f"it is {fallback}."
        )
    return Plan(when, audience, policy is not None, words)


@router.get("/editions/{edition_id}/edit", response_class=HTMLResponse)
def edit_page(request: Request, edition_id: int) -> HTMLResponse:
    session = signed_in(request)
    settings, store, now = settings_of(request), store_of(request), now_of(request)
    try:
        edition, view = edits.open_view(
            settings, store, edition_id, now=now, renderer=_renderer(request), force=False
        )
    except DigestError as exc:
        return _message(request, "Not found", str(exc), "/desk/", 404)
    sections = [{"id": s.format_id, "title": s.title} for s in view.sections]
    return page(
        request,
        "desk/edit.html.j2",
        {
            "user": session.user,
            "csrf_token": session.csrf,
            "view": view,
            "edition": edition,
            "sections": sections,
            "plan": plan_for(request, view, edition.period_end),
            "history": list(reversed(history(store, edition_id))),
            "notice": NOTICES.get(request.query_params.get("notice", "")),
            "editable": view.status in ("draft", "approved", "held"),
        },
    )


@router.post("/editions/{edition_id}/edit")
async def edit_submit(request: Request, edition_id: int) -> Response:
    session = await checked_post(request)
    form = await request.form()
    fields = {k: str(v) for k, v in form.multi_items() if k != "headings"}
    headings = [str(v) for v in form.getlist("headings")]
    back = f"/desk/editions/{edition_id}/edit"
    try:
        change = await run_in_threadpool(_change_from, request, fields, headings)
        result = await run_in_threadpool(
            edits.apply_edit,
            settings_of(request),
            store_of(request),
            edition_id,
            change,
            actor=f"desk:{session.user}",
            now=now_of(request),
            renderer=_renderer(request),
        )
    except DigestError as exc:
        return _message(request, "Not changed", str(exc), back, 409)
    seen = int(fields.get("revision", "0") or 0)
    notice = "others" if result.revision > seen + 1 else "edited"
    return RedirectResponse(f"{back}?notice={notice}", status_code=303)


def _change_from(request: Request, fields: dict[str, str], headings: list[str]) -> edits.Change:
    """The change a submitted form asks for."""
    action = fields.get("action", "")
    item = fields.get("item", "")
    if action in EDITABLE_TEXT:
        return edits.set_text(action, fields.get("value", ""))
    if action == "intro":
        return edits.set_intro(fields.get("section", ""), fields.get("value", ""))
    simple: dict[str, Any] = {
        "drop": edits.drop,
        "restore": edits.restore,
        "pin": edits.pin,
        "unpin": edits.unpin,
    }
    if action in simple:
        change: edits.Change = simple[action](item)
        return change
    if action == "move":
        return edits.move(item, _where(fields.get("where", "")), fields.get("section") or None)
    if action == "item":
        return edits.edit_item(
            item, title=fields.get("title") or None, excerpt=fields.get("excerpt")
        )
    if action == "add-url":
        return _add_url(request, fields)
    if action == "groups":
        chosen = [h for h in headings if h]
        order = {h: fields.get(f"order:{h}", "") for h in chosen}
        position = {h: n for n, h in enumerate(chosen)}
        chosen.sort(key=lambda h: (int(order[h]) if order[h].isdigit() else 999, position[h]))
        return edits.pick_groups(fields.get("section", ""), chosen)
    raise edits.EditError(f"unknown action '{action}'")


def _where(value: str) -> edits.Where:
    if value.isdigit():
        return int(value)
    if value in ("up", "down", "top", "bottom"):
        return value  # type: ignore[return-value]
    raise edits.EditError(f"position '{value}': use up, down, top, bottom or a number from 1")


def _add_url(request: Request, fields: dict[str, str]) -> edits.Change:
    from digest.addurl import story_from_url

    settings = settings_of(request)
    transport = getattr(request.app.state, "editor_transport", None)
    filled = story_from_url(
        settings,
        fields.get("url", ""),
        fields.get("section", ""),
        now=now_of(request),
        transport=transport,
    )
    if fields.get("title"):
        filled.story.title = fields["title"]
    change = edits.add_story(filled.story)
    if filled.problem is None:
        return change

    def with_warning(overlay: Any, view: edits.DraftView) -> str:
        return f"{change(overlay, view)} — {filled.problem}"

    return with_warning
