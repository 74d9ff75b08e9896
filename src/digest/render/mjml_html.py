"""MJML → email HTML: mjml-python (MRML), then the ``inline="inline"`` styles inlined.

MRML does not inline ``<mj-style inline="inline">``; we take those blocks out of the MJML
and give them to css-inline, which writes them into style attributes. MJML's own
``<style>`` blocks (resets, media queries) stay in the head, as MJML intends.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import css_inline
import mjml

from digest.errors import TemplateError

INLINE_STYLE = re.compile(
    r"<mj-style\b[^>]*\binline\s*=\s*[\"']inline[\"'][^>]*>(.*?)</mj-style>", re.S | re.I
)
BYTE_SPAN = re.compile(r"position (\d+):(\d+)")


def split_inline_css(source: str) -> tuple[str, str]:
    """(MJML without the inline mj-style blocks, their CSS joined)."""
    css = "\n".join(match.group(1) for match in INLINE_STYLE.finditer(source))
    return INLINE_STYLE.sub("", source), css


def compile_mjml(source: str, template: str) -> str:
    """MJML → HTML; malformed MJML becomes a TemplateError naming template and line."""
    try:
        html: str = mjml.mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        line = error_line(source, str(exc))
        where = f"line {line} of the MJML it produced" if line else "the MJML it produced"
        excerpt = _line_text(source, line) if line else ""
        raise TemplateError(f"{template}: invalid MJML at {where}: {exc}{excerpt}") from exc
    return html


def inline_css(html: str, css: str) -> str:
    if not css.strip():
        return html
    inliner = css_inline.CSSInliner(
        inline_style_tags=False,
        keep_style_tags=True,
        keep_link_tags=True,
        load_remote_stylesheets=False,
        extra_css=css,
    )
    result: str = inliner.inline(html)
    return result


def error_line(source: str, message: str) -> int | None:
    """1-based line of an MRML error: from its byte span, else the first unbalanced tag."""
    match = BYTE_SPAN.search(message)
    if match:
        offset = int(match.group(1))
        return source.encode("utf-8")[:offset].count(b"\n") + 1
    return _unbalanced_tag_line(source)


def _line_text(source: str, line: int) -> str:
    lines = source.splitlines()
    if not 0 < line <= len(lines):
        return ""
    text = lines[line - 1].strip()
    return f"\n  {line}: {text[:200]}"


class _Balance(HTMLParser):
    """Finds the first MJML tag closed out of order, or left open."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, int]] = []
        self.bad_line: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.startswith("mj") and self.bad_line is None:
            self.stack.append((tag, self.getpos()[0]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # self-closing: nothing to balance

    def handle_endtag(self, tag: str) -> None:
        if not tag.startswith("mj") or self.bad_line is not None:
            return
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()
        else:
            self.bad_line = self.getpos()[0]


def _unbalanced_tag_line(source: str) -> int | None:
    checker = _Balance()
    try:
        checker.feed(source)
        checker.close()
    except Exception:  # the stdlib parser is lenient; never let the fallback hide the error
        return None
    if checker.bad_line is not None:
        return checker.bad_line
    return checker.stack[-1][1] if checker.stack else None
