"""The staff desk: sign in, dashboard, draft previews, approve / hold / test, sign out.

Every page needs a signed-in session; every POST needs the session's CSRF token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from digest.config import Settings
from digest.delivery.sender import send_test
from digest.errors import DigestError
from digest.render import placeholders
from digest.schedule.approval import approve as approve_edition
from digest.schedule.approval import hold as hold_edition
from digest.store.tables import EditionRow
from digest.subscribers import InvalidAddress, normalize_email
from digest.web.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    PasswordHashError,
    SessionCodec,
    StaffSession,
    configured_hash,
    csrf_matches,
    new_session,
    verify_password,
)
from digest.web.dashboard import load_dashboard, run_error_summary
from digest.web.pages import page
from digest.web.state import now_of, settings_of, store_of

router = APIRouter(prefix="/desk")
NO_PASSWORD = (
    "Staff sign-in is switched off: no password hash is configured. Set web.staff_password_hash "
    "in config.yaml to an environment variable reference and put the output of "
    "'digest web hash-password' in that variable."
)


class NotSignedIn(Exception):
    """Raised by pages that need a session; answered with a redirect or a 403."""


class CsrfRefused(Exception):
    """A staff POST without the session's CSRF token; answered with a 403."""


def _codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.sessions
    return codec


def current_session(request: Request) -> StaffSession | None:
    return _codec(request).loads(request.cookies.get(SESSION_COOKIE))


def signed_in(request: Request) -> StaffSession:
    session = current_session(request)
    if session is None or not session.signed_in:
        raise NotSignedIn()
    return session


async def checked_post(request: Request) -> StaffSession:
    """A signed-in session whose CSRF token the submitted form carries."""
    session = signed_in(request)
    form = await request.form()
    if not csrf_matches(session, str(form.get("csrf_token", ""))):
        raise CsrfRefused()
    return session


def set_session_cookie(request: Request, response: Response, session: StaffSession) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        _codec(request).dumps(session),
        max_age=int(SESSION_MAX_AGE.total_seconds()),
        path="/desk",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


NOTICES = {
    "approved": "The edition is approved.",
    "held": "The edition is held; it will not be sent until approved.",
    "test-sent": "A test copy is on its way to your address.",
}


def _notice(request: Request) -> str | None:
    """Only known notices are shown: the query string cannot put words on the page."""
    return NOTICES.get(request.query_params.get("notice", ""))


def _back_to_dashboard(notice: str) -> RedirectResponse:
    return RedirectResponse(f"/desk/?notice={notice}", status_code=303)


# --- sign in and out --------------------------------------------------------------------


def _login_page(
    request: Request, session: StaffSession, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    enabled = configured_hash(settings_of(request)) is not None
    response = page(
        request,
        "desk/login.html.j2",
        {
            "csrf_token": session.csrf,
            "error": error or (None if enabled else NO_PASSWORD),
            "enabled": enabled,
        },
        status_code=status_code,
    )
    set_session_cookie(request, response, session)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    session = current_session(request)
    if session is not None and session.signed_in:
        return RedirectResponse("/desk/", status_code=303)
    return _login_page(request, session or new_session())


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request) -> Response:
    session = current_session(request) or new_session()
    form = await request.form()
    encoded = configured_hash(settings_of(request))
    if encoded is None:
        return _login_page(request, session, status_code=403)
    if not csrf_matches(current_session(request), str(form.get("csrf_token", ""))):
        return _login_page(
            request, new_session(), error="The form expired; please try again.", status_code=403
        )
    if not request.app.state.login_limiter.allow(request.client.host if request.client else ""):
        return _login_page(
            request, session, error="Too many attempts; wait a minute.", status_code=429
        )
    try:
        email = normalize_email(str(form.get("email", "")))
        password_ok = await run_in_threadpool(
            verify_password, str(form.get("password", "")), encoded
        )
    except InvalidAddress:
        return _login_page(request, session, error="Enter your email address.", status_code=400)
    except PasswordHashError as exc:
        return _login_page(request, session, error=str(exc), status_code=500)
    if not password_ok:
        return _login_page(request, session, error="That password is not right.", status_code=403)
    response = RedirectResponse("/desk/", status_code=303)
    set_session_cookie(request, response, new_session(email))  # fresh CSRF token on sign-in
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await checked_post(request)
    response = RedirectResponse("/desk/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/desk")
    return response


# --- dashboard and previews -------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    session = signed_in(request)
    data = load_dashboard(settings_of(request), store_of(request), now_of(request))
    return page(
        request,
        "desk/dashboard.html.j2",
        {
            "user": session.user,
            "csrf_token": session.csrf,
            "data": data,
            "run_error": run_error_summary,
            "notice": _notice(request),
        },
    )


def _edition(request: Request, edition_id: int) -> EditionRow | None:
    with store_of(request).session() as session:
        return session.get(EditionRow, edition_id)


@router.get("/editions/{edition_id}", response_class=HTMLResponse)
def preview(request: Request, edition_id: int) -> HTMLResponse:
    session = signed_in(request)
    edition = _edition(request, edition_id)
    if edition is None:
        return page(
            request,
            "message.html.j2",
            {"title": "Not found", "message": f"There is no edition {edition_id}."},
            status_code=404,
        )
    return page(
        request,
        "desk/preview.html.j2",
        {
            "user": session.user,
            "csrf_token": session.csrf,
            "edition": edition,
            "notice": _notice(request),
        },
    )


def preview_html(html: str, settings: Settings) -> str:
    """The email as a reader sees it, with harmless stand-ins for the personal links."""
    stand_in = settings.organization.site_url.rstrip("/") + "/subscribe"
    return placeholders.fill(
        html,
        {
            placeholders.UNSUBSCRIBE_URL: stand_in,
            placeholders.PREFERENCES_URL: stand_in,
            placeholders.SUBSCRIBER_NAME: "Reader",
        },
    )


@router.get("/editions/{edition_id}/email.html", response_class=HTMLResponse)
def preview_frame(request: Request, edition_id: int) -> HTMLResponse:
    signed_in(request)
    edition = _edition(request, edition_id)
    if edition is None:
        return HTMLResponse("Not found", status_code=404)
    # Shown inside the preview page's frames: sandboxed, no scripts, framed only by us.
    return HTMLResponse(
        preview_html(edition.html, settings_of(request)),
        headers={
            "Content-Security-Policy": "sandbox; frame-ancestors 'self'; script-src 'none'",
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


# --- actions ----------------------------------------------------------------------------


@router.post("/editions/{edition_id}/approve")
async def approve(request: Request, edition_id: int) -> Response:
    session = await checked_post(request)
    return await _act(request, approve_edition, edition_id, session, "approved")


@router.post("/editions/{edition_id}/hold")
async def hold(request: Request, edition_id: int) -> Response:
    session = await checked_post(request)
    return await _act(request, hold_edition, edition_id, session, "held")


async def _act(
    request: Request, action: object, edition_id: int, session: StaffSession, done: str
) -> Response:
    assert callable(action) and session.user is not None
    try:
        await run_in_threadpool(
            action,
            settings_of(request),
            store_of(request),
            edition_id,
            session.user,
            now_of(request),
        )
    except DigestError as exc:
        return page(
            request,
            "message.html.j2",
            {"title": "Not done", "message": str(exc), "back": "/desk/"},
            status_code=409,
        )
    return _back_to_dashboard(done)


@router.post("/editions/{edition_id}/test")
async def send_test_copy(request: Request, edition_id: int) -> Response:
    """One [TEST] copy of the edition to the signed-in staff member's own address."""
    session = await checked_post(request)
    assert session.user is not None
    try:
        outcome = await run_in_threadpool(
            send_test, settings_of(request), store_of(request), edition_id, session.user
        )
    except DigestError as exc:
        return page(
            request,
            "message.html.j2",
            {"title": "Test not sent", "message": str(exc), "back": "/desk/"},
            status_code=409,
        )
    reply = outcome.get(session.user, "")
    if not reply.startswith("2"):
        return page(
            request,
            "message.html.j2",
            {
                "title": "Test not sent",
                "message": f"The mail server said: {reply}",
                "back": "/desk/",
            },
            status_code=502,
        )
    return RedirectResponse(f"/desk/editions/{edition_id}?notice=test-sent", status_code=303)
