"""Rendering the web app's pages from ``templates/web/`` (overridable per deployment)."""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from digest.render.templates import render


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
