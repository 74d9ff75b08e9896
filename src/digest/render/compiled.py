"""How our templates compile: faster output escaping and attribute lookups.

Jinja compiles a template to Python; an email runs that code for about a thousand
output values and two thousand attribute lookups. These two changes to what it runs are
written against the code Jinja 3.1 generates (hence ``jinja2<3.2`` in pyproject.toml);
every template test runs through them.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from types import CodeType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from markupsafe import Markup

from digest.render import filters


def output_escape(value: Any) -> str:
    """What a ``{{ … }}`` writes in an autoescaped template: ``markupsafe.escape`` without
    building a Markup per value. Jinja joins the pieces and wraps blocks, macros and
    ``{% set %}`` captures in Markup itself, so the pieces need only be safe text; a
    Markup value (a whole section body, say) is written as is, not copied."""
    if type(value) is Markup:  # most values: checked first, as the cheapest test
        return value
    if type(value) is not str and hasattr(value, "__html__"):
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
    that finds nothing (so ``obj["title"]`` and undefined values behave as before). The
    object is evaluated once, into a temporary.
    """

    @optimizeconst
    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        if self.environment.is_async:
            super().visit_Getattr(node, frame)
            return
        self._getattr_count = getattr(self, "_getattr_count", 0) + 1
        value, obj = f"t_ga{self._getattr_count}", f"t_go{self._getattr_count}"
        self.write(f"({value} if ({value} := getattr(({obj} := ")
        self.visit(node.node, frame)
        self.write(f"), {node.attr!r}, missing)) is not missing")
        self.write(f" else environment.getattr({obj}, {node.attr!r}))")
