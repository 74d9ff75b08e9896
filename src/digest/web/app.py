"""The web app: public pages (sign-up, unsubscribe, preferences, archive) and the staff desk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from digest.config import Settings
from digest.store import Store
from digest.web import archive, desk, editdesk, public
from digest.web.auth import SessionCodec
from digest.web.pages import page, web_environment
from digest.web.ratelimit import RateLimiter

# Pages never leak their URL (which holds a personal token) to the sites they link to.
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": (
        "default-src 'self'; img-src * data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'none'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
    ),
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    store: Store,
    *,
    clock: Callable[[], datetime] = _utc_now,
    signup_limiter: RateLimiter | None = None,
    login_limiter: RateLimiter | None = None,
) -> FastAPI:
    """Build the app. ``signup_limiter`` defaults to 5 sign-ups per minute per address."""
    app = FastAPI(
        title=f"{settings.organization.name} newsletters",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.clock = clock
    app.state.env = web_environment(settings)
    app.state.sessions = SessionCodec(settings.signing_secret())
    app.state.signup_limiter = signup_limiter or RateLimiter(per_minute=5, burst=5)
    app.state.login_limiter = login_limiter or RateLimiter(per_minute=10, burst=10)

    app.include_router(public.router)
    app.include_router(archive.router)
    app.include_router(desk.router)
    app.include_router(editdesk.router)
    _install_handlers(app)
    return app


def _install_handlers(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/desk"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(desk.NotSignedIn)
    async def not_signed_in(request: Request, exc: desk.NotSignedIn) -> Response:
        if request.method in ("GET", "HEAD"):
            return RedirectResponse("/desk/login", status_code=303)
        return _refused(request, "Please sign in first.")

    @app.exception_handler(desk.CsrfRefused)
    async def csrf_refused(request: Request, exc: desk.CsrfRefused) -> Response:
        return _refused(
            request,
            "This form expired or did not come from the desk. Go back, "
            "reload the page and try again.",
        )


def _refused(request: Request, message: str) -> HTMLResponse:
    return page(
        request,
        "message.html.j2",
        {"title": "Not allowed", "message": message, "back": "/desk/login"},
        status_code=403,
    )
