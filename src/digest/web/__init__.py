"""The web app: ``create_app(settings, store) -> FastAPI``; run it with ``digest serve``."""

from digest.web.app import create_app

__all__ = ["create_app"]
