"""What every route reads from the application: settings, store and clock (set by create_app)."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request

from digest.config import Settings
from digest.render import Renderer
from digest.store import Store


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def renderer_of(request: Request) -> Renderer:
    """The app's one Renderer: its templates compile once for the app's life."""
    renderer: Renderer = request.app.state.renderer
    return renderer


def now_of(request: Request) -> datetime:
    """The app's clock (injectable, so tests can move time for expiring links)."""
    now: datetime = request.app.state.clock()
    return now
