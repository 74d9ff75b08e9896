"""Renditions of an edition: email HTML + text, archive web page, social text."""

from __future__ import annotations

from digest.render.email import RenderedEmail, Renderer
from digest.render.templates import default_templates_dir

__all__ = ["RenderedEmail", "Renderer", "default_templates_dir"]
