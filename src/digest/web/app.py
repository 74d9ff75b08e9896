"""The web app: public pages (sign-up, unsubscribe, preferences, archive) and the staff desk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from digest.config import Settings
from digest.render import Renderer
from digest.store import Store
from digest.web import approval, archive, desk, public
from digest.web.auth import SessionCodec
from digest.web.limits import BodyLimit
from digest.web.pages import page
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
# Sent on https responses only (RFC 6797 §7.2): a year, this host only (subdomains may be
# other services of the organisation that are not all on https).
HSTS = "max-age=31536000"


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
        # Starlette's own slash redirect builds an absolute URL from the Host header
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.clock = clock
    app.state.renderer = Renderer(settings)
    app.state.env = app.state.renderer.env
    app.state.sessions = SessionCodec(settings.signing_keys())
    app.state.signup_limiter = signup_limiter or RateLimiter(per_minute=5, burst=5)
    app.state.login_limiter = login_limiter or RateLimiter(per_minute=10, burst=10)

    app.include_router(public.router)
    app.include_router(archive.router)
    app.include_router(desk.router)
    app.include_router(approval.router)
    _install_handlers(app)
    if settings.web.trusted_proxies:
        # X-Forwarded-For / -Proto are believed only from these (the client's address
        # decides rate limits and is kept as consent evidence)
        app.add_middleware(
            ProxyHeadersMiddleware,
            trusted_hosts=list(settings.web.trusted_proxies),
        )
    app.add_middleware(BodyLimit)  # request body caps per route (digest.web.limits)
    return app


def slash_redirect(app: FastAPI, request: Request) -> str | None:
    """The same path with a trailing slash, as a relative URL, if that is a page.

    Relative and with one leading slash, so neither the Host header nor a path like
    ``//evil.example`` can send the browser to another site.
    """
    path = request.url.path
    if path.endswith("/"):
        return None
    scope = {**request.scope, "path": path + "/"}
    if not any(route.matches(scope)[0] == Match.FULL for route in app.router.routes):
        return None
    target = "/" + path.lstrip("/\\") + "/"
    return target + (f"?{request.url.query}" if request.url.query else "")


def _install_handlers(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if request.url.path.startswith(("/desk", "/staff")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, exc: StarletteHTTPException) -> Response:
        target = slash_redirect(app, request) if exc.status_code == 404 else None
        if target is not None:
            return RedirectResponse(target, status_code=307)
        return await http_exception_handler(request, exc)

    @app.exception_handler(desk.NotSignedIn)
    async def not_signed_in(request: Request, exc: desk.NotSignedIn) -> Response:
        if request.method in ("GET", "HEAD"):
            return RedirectResponse("/desk/login", status_code=303)
        return _refused(request, "Please sign in first.")

    @app.exception_handler(desk.RoleRefused)
    async def role_refused(request: Request, exc: desk.RoleRefused) -> Response:
        return page(
            request,
            "message.html.j2",
            {"title": "Not allowed", "message": str(exc), "back": "/desk/"},
            status_code=403,
        )

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
