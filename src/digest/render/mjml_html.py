"""MJML → email HTML: mjml-python (MRML), then the ``inline="inline"`` styles inlined.

MRML does not inline ``<mj-style inline="inline">``; we take those blocks out of the MJML
and give them, with the class rules of email/inline_styles.j2, to css-inline, which
writes them into style attributes. MJML's own ``<style>`` blocks (resets, media queries)
stay in the head, as MJML intends.
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
STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.S | re.I)
CLASS_SELECTOR = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
CLASS_ATTR = re.compile(r' class="([^"]*)"')
BYTE_SPAN = re.compile(r"position (\d+):(\d+)")


def split_inline_css(source: str) -> tuple[str, str]:
    """(MJML without the inline mj-style blocks, their CSS joined).

    Each block is replaced by as many line breaks as it spanned, so MRML's error
    positions still point at the right line of the generated MJML. MJML without such a
    block (the default templates) is returned as it is, not copied.
    """
    # mj-style belongs in mj-head: only the head is searched, not the long body.
    end = source.find("</mj-head>")
    head = source if end < 0 else source[:end]
    if INLINE_STYLE.search(head) is None:
        return source, ""
    css = "\n".join(match.group(1) for match in INLINE_STYLE.finditer(head))
    head = INLINE_STYLE.sub(lambda match: "\n" * match.group(0).count("\n"), head)
    return head + ("" if end < 0 else source[end:]), css


def compile_mjml(source: str, template: str) -> str:
    """MJML → HTML; malformed MJML becomes a TemplateError naming template and line."""
    try:
        html: str = mjml.mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise TemplateError(describe_error(source, template, str(exc))) from exc
    return html


def describe_error(source: str, template: str, message: str) -> str:
    """Name the line MRML stopped at and, when different, the first tag out of place."""
    reported = _reported_line(source, message)
    suspect = _unbalanced_tag_line(source)
    line = reported or suspect
    if line is None:
        return f"{template}: invalid MJML in the MJML it produced: {message}"
    text = f"{template}: invalid MJML at line {line} of the MJML it produced: {message}"
    text += _line_text(source, line)
    if suspect is not None and suspect != line:
        text += f"\n  probably caused by line {suspect}:" + _line_text(source, suspect)[1:]
    return text


def inline_css(html: str, css: str) -> str:
    inliner = css_inline.CSSInliner(
        inline_style_tags=False,
        keep_style_tags=True,
        keep_link_tags=True,
        load_remote_stylesheets=False,
        extra_css=css,
        minify_css=True,  # "color:red" not "color: red;": bytes count toward Gmail's clip
    )
    result: str = inliner.inline(html)
    return drop_unused_classes(result)


def drop_unused_classes(html: str) -> str:
    """Remove class names no remaining <style> refers to: their rules are inlined now."""
    used = set(CLASS_SELECTOR.findall(" ".join(STYLE_BLOCK.findall(html))))

    def keep(match: re.Match[str]) -> str:
        names = [name for name in match.group(1).split() if name in used]
        return f' class="{" ".join(names)}"' if names else ""

    return CLASS_ATTR.sub(keep, html)


def _reported_line(source: str, message: str) -> int | None:
    """1-based line of MRML's byte span, if the message has one."""
    match = BYTE_SPAN.search(message)
    if not match:
        return None
    return source.encode("utf-8")[: int(match.group(1))].count(b"\n") + 1


def _line_text(source: str, line: int) -> str:
    lines = source.splitlines()
    if not 0 < line <= len(lines):
        return ""
    text = lines[line - 1].strip()
    return f"\n  {line}: {text[:200]}"


VOID_TAGS = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class _Balance(HTMLParser):
    """Finds the first closing tag with nothing to close, or an MJML tag left open.

    HTML inside mj-text may leave <p> or <li> open (the HTML parser closes them), so a
    closing tag further out closes them silently; MJML tags must nest exactly.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, int]] = []
        self.bad_line: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID_TAGS and self.bad_line is None:
            self.stack.append((tag, self.getpos()[0]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # self-closing: nothing to balance

    def handle_endtag(self, tag: str) -> None:
        if self.bad_line is not None or tag in VOID_TAGS:
            return
        names = [name for name, _ in self.stack]
        if tag not in names:
            self.bad_line = self.getpos()[0]
            return
        while self.stack:
            name, _ = self.stack.pop()
            if name == tag:
                return
            if name.startswith("mj"):
                self.bad_line = self.getpos()[0]
                return


def _unbalanced_tag_line(source: str) -> int | None:
    checker = _Balance()
    checker.feed(source)
    checker.close()
    if checker.bad_line is not None:
        return checker.bad_line
    open_mjml = [line for name, line in checker.stack if name.startswith("mj")]
    return open_mjml[-1] if open_mjml else None
