"""The Jinja2 environment for every rendition (email, web archive, social).

Lookup order: the deployment's ``templates_dir`` first, then the defaults shipped with
the package. A name starting with ``default:`` always means the shipped default, so an
override can ``{% extends "default:email/base.mjml.j2" %}`` and change one block.
"""

from __future__ import annotations

import functools
import re
import sys
import weakref
from collections.abc import Callable, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import jinja2
from jinja2.ext import Extension
from markupsafe import escape

from digest.config import Settings
from digest.errors import TemplateError
from digest.render import filters
from digest.render.compiled import DigestCodeGenerator, DigestTemplate

T = TypeVar("T")
STYLES_TEMPLATE = "email/inline_styles.j2"
STYLE_REF = re.compile(r"\{\{ style\.([a-zA-Z_]\w*) \}\}")
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
            return self._default(environment, template[len(DEFAULT_PREFIX) :])
        if self.override is not None:
            try:
                return self.override.get_source(environment, template)
            except jinja2.TemplateNotFound:
                pass
        return self._default(environment, template)

    def _default(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        """A shipped template: compiled once, never checked for changes on disk (each
        check is a stat per template per render; the overrides are still checked)."""
        source, filename, _ = self.defaults.get_source(environment, template)
        return source, filename, _unchanged

    def list_templates(self) -> list[str]:
        names = set(self.defaults.list_templates())
        if self.override is not None:
            names.update(self.override.list_templates())
        return sorted(names)


def _unchanged() -> bool:
    return True


class LazyMacros:
    """``m`` in the email templates: a macros template, imported with the render's
    context when a template first uses one of its macros (as ``{% import name as m with
    context %}`` would have, up front). The default templates write their markup out and
    call none, so most emails never pay for the import: a module of Macro objects per
    pass, held in a reference cycle until the garbage collector finds it.
    """

    def __init__(self, context: jinja2.runtime.Context, name: str) -> None:
        self._context = weakref.ref(context)  # the context holds this object: no cycle
        self._name = name
        self._module: Any = None

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)  # copy, pickle and friends probe for these
        if self._module is None:
            context = self._context()
            if context is None:
                raise AttributeError(f"{self._name}: used after its render ended")
            template = context.environment.get_template(self._name)
            self._module = template.make_module(context.get_all(), True)
        return getattr(self._module, attr)


@jinja2.pass_context
def macros(context: jinja2.runtime.Context, name: str) -> LazyMacros:
    """``{% set m = macros("email/macros.mjml.j2") %}``: see LazyMacros."""
    return LazyMacros(context, name)


class InlineStyles(Extension):
    """Writes ``{{ style.name }}`` as the value email/inline_styles.j2 sets, when the
    template is compiled: the email's many style attributes then cost nothing per render.

    Values that hold a newline or a brace are left to the template at render time (the
    context's ``style``), so line numbers and Jinja syntax are never disturbed. Templates
    compile once per process (see DigestLoader), so a changed inline_styles.j2 in the
    templates_dir takes effect after a restart.
    """

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if "{{ style." not in source or name in (STYLES_TEMPLATE, DEFAULT_PREFIX + STYLES_TEMPLATE):
            return source
        styles = self.environment.get_template(STYLES_TEMPLATE).module
        escaped = autoescape_for(name)

        def value(match: re.Match[str]) -> str:
            found = getattr(styles, match.group(1), None)
            if not isinstance(found, str) or "\n" in found or "{" in found:
                return match.group(0)
            return str(escape(found)) if escaped else found

        return STYLE_REF.sub(value, source)


@functools.lru_cache(maxsize=512)
def autoescape_for(name: str | None) -> bool:
    """Escape everything except plain-text templates (.txt.j2). Jinja asks again for
    every context it makes (each include), hence the cache."""
    if name is None:
        return True
    stem = name.removesuffix(".j2")
    return not stem.endswith(PLAIN_SUFFIXES)


class DigestEnvironment(jinja2.Environment):
    """The Jinja environment of every rendition: templates compiled the way
    digest.render.compiled describes, and plain-dict template globals."""

    code_generator_class = DigestCodeGenerator
    template_class = DigestTemplate

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """The environment's globals with the template's over them, as one dict.

        Jinja returns a ChainMap, and copies it into a dict (in Python, key by key) for
        every context it makes: each include of each email. Our globals are set when the
        environment is made, before any template loads (as Jinja advises), so a copy
        taken at load time sees them all.
        """
        return {**self.globals, **(d or {})}


def make_environment(settings: Settings) -> jinja2.Environment:
    override = settings.resolve_path(settings.templates_dir) if settings.templates_dir else None
    env = DigestEnvironment(
        loader=DigestLoader(override, default_templates_dir()),
        autoescape=autoescape_for,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=[InlineStyles],
        # A plain dict, not Jinja's default LRU cache, which takes a lock and reorders a
        # deque on every lookup: an email looks templates up about forty times, and a
        # deployment has a few dozen of them.
        cache_size=-1,
    )
    filters.install(env)
    env.globals["macros"] = macros
    env.globals["org"] = settings.organization
    from digest import display  # edition headline, summary, image, share links

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
