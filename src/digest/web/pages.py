"""Rendering the web app's pages from ``templates/web/`` (overridable per deployment)."""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from digest.config import Settings
from digest.render.templates import make_environment, render


def web_environment(settings: Settings) -> jinja2.Environment:
    """The shared digest environment (org global, filters, override lookup) for pages."""
    env = make_environment(settings)
    env.globals["site_url"] = settings.organization.site_url
    return env


def page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``web/<name>`` into an HTML response."""
    env: jinja2.Environment = request.app.state.env
    html = render(env, f"web/{name}", {"request_path": request.url.path, **(context or {})})
    return HTMLResponse(html, status_code=status_code, headers=headers)
