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
from types import CodeType, TracebackType
from typing import Any, TypeVar

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.ext import Extension
from markupsafe import Markup, escape

from digest.config import Settings
from digest.errors import TemplateError
from digest.render import filters

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


def output_escape(value: Any) -> str:
    """What a ``{{ … }}`` writes in an autoescaped template: ``markupsafe.escape`` without
    building a Markup per value. Jinja joins the pieces and wraps blocks, macros and
    ``{% set %}`` captures in Markup itself, so the pieces need only be safe text; a
    Markup value (a whole section body, say) is written as is, not copied."""
    kind = type(value)
    if kind is Markup:  # most values: checked first, as the cheapest test
        return value  # type: ignore[no-any-return]
    if kind is str:
        return value if filters.is_plain(value) else filters.html_escape(value)
    if hasattr(value, "__html__"):
        html: str = value.__html__()
        return html
    return filters.html_escape(value)


class DigestTemplate(jinja2.Template):
    """A Template whose ``{{ … }}`` output uses :func:`output_escape`.

    The code Jinja generates calls the module-level name ``escape`` for output and
    nothing else (jinja2.compiler: _output_child_pre), so rebinding it after the module
    runs changes only how output is escaped. About a thousand values go out per email,
    and markupsafe.escape's Markup object per value was the render's largest single cost.
    """

    @classmethod
    def from_code(
        cls,
        environment: jinja2.Environment,
        code: CodeType,
        globals: MutableMapping[str, Any],
        uptodate: Callable[[], bool] | None = None,
    ) -> jinja2.Template:
        namespace = {"environment": environment, "__file__": code.co_filename}
        exec(code, namespace)  # as jinja2.Template.from_code does
        namespace["escape"] = output_escape
        template = cls._from_namespace(environment, namespace, globals)
        template._uptodate = uptodate
        return template


class DigestCodeGenerator(CodeGenerator):
    """Jinja's code generator with a cheaper ``obj.attr``.

    Jinja compiles ``v.title`` to ``environment.getattr(v, "title")``: a Python call per
    lookup, about two thousand per email. This writes the builtin
    ``getattr(v, "title", missing)`` inline and calls ``environment.getattr`` only when
    that finds nothing (so ``obj["title"]`` and undefined values behave as before). An
    object other than a plain variable is evaluated once, into a temporary.
    """

    @optimizeconst
    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        if self.environment.is_async:
            super().visit_Getattr(node, frame)
            return
        self._getattr_count = getattr(self, "_getattr_count", 0) + 1
        value, obj = f"t_ga{self._getattr_count}", f"t_go{self._getattr_count}"
        if isinstance(node.node, nodes.Name):  # a variable: reading it twice costs nothing
            self.write(f"({value} if ({value} := getattr(")
            self.visit(node.node, frame)
            self.write(f", {node.attr!r}, missing)) is not missing else environment.getattr(")
            self.visit(node.node, frame)
            self.write(f", {node.attr!r}))")
            return
        self.write(f"({value} if ({value} := getattr(({obj} := ")
        self.visit(node.node, frame)
        self.write(f"), {node.attr!r}, missing)) is not missing")
        self.write(f" else environment.getattr({obj}, {node.attr!r}))")


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
    """The Jinja environment of every rendition, with the code and template classes
    above and plain-dict template globals."""

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
