"""The staff desk: sign in, dashboard, draft previews, approve / hold / test, sign out.

Every page needs a signed-in session; every POST needs the session's CSRF token; each
action needs a role that may do it (digest.web.users). Routes learn who is signed in
from :func:`current_user` — the actor to record any change under.
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
    csrf_matches,
    new_session,
)
from digest.web.dashboard import load_dashboard, run_error_summary
from digest.web.pages import page
from digest.web.state import now_of, settings_of, store_of
from digest.web.users import (
    PERMISSIONS,
    Permission,
    StaffUser,
    check_password,
    credentials_for,
    end_session,
    load_session,
    open_session,
    sign_in_enabled,
)

router = APIRouter(prefix="/desk")
NO_PASSWORD = (
    "Staff sign-in is switched off: there are no staff accounts and no bootstrap password. "
    "Add an account with 'digest web add-user EMAIL --role admin', or set "
    "web.staff_password_hash in config.yaml to an environment variable reference and put "
    "the output of 'digest web hash-password' in that variable."
)


class NotSignedIn(Exception):
    """Raised by pages that need a session; answered with a redirect or a 403."""


class CsrfRefused(Exception):
    """A staff POST without the session's CSRF token; answered with a 403."""


class RoleRefused(Exception):
    """The signed-in staff member's role may not do this; answered with a 403."""

    def __init__(self, user: StaffUser, permission: Permission) -> None:
        self.user, self.permission = user, permission
        needed = PERMISSIONS[permission]
        super().__init__(
            f"You are signed in as {user.email} ({user.role}); to {permission} an edition "
            f"you need the {needed} role. Ask an admin."
        )


def _codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.sessions
    return codec


def current_session(request: Request) -> StaffSession | None:
    """The cookie's session; signed in only if its server-side session is still live."""
    cookie = _codec(request).loads(request.cookies.get(SESSION_COOKIE))
    if cookie is None or cookie.session_id is None:
        return cookie
    cached = getattr(request.state, "staff_session", None)
    if isinstance(cached, StaffSession):
        return cached
    live = load_session(settings_of(request), store_of(request), cookie.session_id, now_of(request))
    if live is None:
        return None  # signed out, expired or the password changed: a fresh anonymous session
    user, csrf = live
    session = StaffSession(csrf=csrf, user=user.email, session_id=cookie.session_id, role=user.role)
    request.state.staff_session = session
    request.state.staff_user = user
    return session


def current_user(request: Request) -> StaffUser:
    """Who is signed in (``.email``, ``.role``, ``.can(permission)``); NotSignedIn if nobody."""
    session = signed_in(request)
    user: StaffUser = request.state.staff_user
    assert user.email == session.user
    return user


def require(request: Request, permission: Permission) -> StaffUser:
    """The signed-in staff member, if their role may do ``permission``; else RoleRefused."""
    user = current_user(request)
    if not user.can(permission):
        raise RoleRefused(user, permission)
    return user


def signed_in(request: Request) -> StaffSession:
    session = current_session(request)
    if session is None or not session.signed_in:
        raise NotSignedIn()
    return session


async def checked_post(request: Request, permission: Permission | None = None) -> StaffSession:
    """A signed-in session whose CSRF token the submitted form carries (and, if given,
    whose role may do ``permission``)."""
    session = signed_in(request)
    form = await request.form()
    if not csrf_matches(session, str(form.get("csrf_token", ""))):
        raise CsrfRefused()
    if permission is not None:
        require(request, permission)
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
    enabled = sign_in_enabled(settings_of(request), store_of(request))
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
    settings, store = settings_of(request), store_of(request)
    if not sign_in_enabled(settings, store):
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
        credentials = credentials_for(settings, store, email)
        password_ok = await run_in_threadpool(
            check_password, credentials, str(form.get("password", ""))
        )
    except InvalidAddress:
        return _login_page(request, session, error="Enter your email address.", status_code=400)
    except PasswordHashError as exc:
        return _login_page(request, session, error=str(exc), status_code=500)
    if not password_ok or credentials is None:
        return _login_page(request, session, error="That password is not right.", status_code=403)
    if session.session_id is not None:  # signing in again replaces the old session
        end_session(store, session.session_id)
    session_id, csrf = open_session(store, credentials, now_of(request))
    response = RedirectResponse("/desk/", status_code=303)
    # a fresh session id and CSRF token on sign-in (no session fixation)
    set_session_cookie(
        request, response, StaffSession(csrf=csrf, user=email, session_id=session_id)
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = await checked_post(request)
    if session.session_id is not None:
        end_session(store_of(request), session.session_id)  # over on the server, not only here
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
            "staff": current_user(request),
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
            "staff": current_user(request),
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
    session = await checked_post(request, "approve")
    return await _act(request, approve_edition, edition_id, session, "approved")


@router.post("/editions/{edition_id}/hold")
async def hold(request: Request, edition_id: int) -> Response:
    session = await checked_post(request, "hold")
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
    session = await checked_post(request, "test")
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
