"""The Jinja2 environment for every rendition (email, web archive, social).

Lookup order: the deployment's ``templates_dir`` first, then the defaults shipped with
the package. A name starting with ``default:`` always means the shipped default, so an
override can ``{% extends "default:email/base.mjml.j2" %}`` and change one block.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import jinja2

from digest.config import Settings
from digest.errors import TemplateError
from digest.render import filters, postcards

T = TypeVar("T")
STYLES_TEMPLATE = "email/inline_styles.j2"
DEFAULT_PREFIX = "default:"
# Template suffixes rendered without HTML escaping (plain-text parts, social posts).
PLAIN_SUFFIXES = (".txt", ".text")


def default_templates_dir() -> Path:
    """The shipped templates: inside the wheel, or the checkout's top-level folder."""
    package_dir = Path(__file__).resolve().parent.parent  # .../digest
    candidates = (package_dir / "templates", package_dir.parent.parent / "templates")
    for candidate in candidates:
        if (candidate / "email").is_dir():
            return candidate
    raise TemplateError(
        "default templates not found; looked in " + ", ".join(str(c) for c in candidates)
    )


class DigestLoader(jinja2.BaseLoader):
    """Override folder → defaults; ``default:`` names skip the override folder."""

    def __init__(self, override_dir: Path | None, defaults_dir: Path) -> None:
        self.defaults = jinja2.FileSystemLoader(str(defaults_dir))
        self.override = jinja2.FileSystemLoader(str(override_dir)) if override_dir else None

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template.startswith(DEFAULT_PREFIX):
            return self.defaults.get_source(environment, template[len(DEFAULT_PREFIX) :])
        if self.override is not None:
            try:
                return self.override.get_source(environment, template)
            except jinja2.TemplateNotFound:
                pass
        return self.defaults.get_source(environment, template)

    def list_templates(self) -> list[str]:
        names = set(self.defaults.list_templates())
        if self.override is not None:
            names.update(self.override.list_templates())
        return sorted(names)


def autoescape_for(name: str | None) -> bool:
    """Escape everything except plain-text templates (.txt.j2)."""
    if name is None:
        return True
    stem = name.removesuffix(".j2")
    return not stem.endswith(PLAIN_SUFFIXES)


def make_environment(settings: Settings) -> jinja2.Environment:
    override = settings.resolve_path(settings.templates_dir) if settings.templates_dir else None
    env = jinja2.Environment(
        loader=DigestLoader(override, default_templates_dir()),
        autoescape=autoescape_for,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    filters.install(env)
    postcards.install(env)
    env.globals["org"] = settings.organization
    env.globals["site_url"] = settings.organization.site_url
    from digest.render import display  # edition headline, summary, image, share links

    display.install(env)
    return env


def render(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render ``name``; any template problem becomes a TemplateError naming file and line."""
    return _reported(name, lambda: env.get_template(name).render(context))


def module(env: jinja2.Environment, name: str) -> Any:
    """The variables a template sets (``{% set %}``), like ``{% import name as x %}``."""
    return _reported(name, lambda: env.get_template(name).module)


def _reported(name: str, call: Callable[[], T]) -> T:
    """``call()``, any Jinja problem with ``name`` turned into a TemplateError."""
    try:
        return call()
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or name
        raise TemplateError(f"{where}, line {exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template not found: {exc.name} (needed by {name})") from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{_location(exc, name)}: {exc.message}") from exc


def _location(exc: BaseException, fallback: str) -> str:
    """The deepest template frame in the traceback (Jinja maps frames to template lines)."""
    found = fallback
    tb: TracebackType | None = exc.__traceback__ or sys.exc_info()[2]
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = f"{filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return found
