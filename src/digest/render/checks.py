"""Structural checks on a rendered email, run before it can be stored or sent."""

from __future__ import annotations

import re

from markupsafe import escape

from digest.errors import RenderCheckError
from digest.render import placeholders

# Gmail clips messages over ~102 KB; fail well before that.
MAX_HTML_BYTES = 100 * 1024
# Never in an email: mail clients block them and they are what an injection looks like.
ACTIVE_TAGS = {"script", "iframe", "object", "embed", "form"}


# A start tag with its attributes; quoted values may hold '>' or '<' (css-inline writes
# them raw in attributes), so they are consumed whole and never mistaken for tags.
START_TAG = re.compile(r"""<([a-zA-Z][a-zA-Z0-9-]*)((?:[^>"']+|"[^"]*"|'[^']*')*)>""")
HAS_ALT = re.compile(r"\salt\s*=", re.I)
SRC = re.compile(r'\ssrc\s*=\s*"([^"]*)"', re.I)


def tag_problems(html: str) -> list[str]:
    """Problems found in the start tags: leftover MJML, images without alt, active tags."""
    problems: list[str] = []
    for match in START_TAG.finditer(html):
        name, attrs = match.group(1).lower(), match.group(2)
        if name.startswith("mj-"):
            problems.append(f"MJML tag left in the HTML: {match.group(0)[:60]!r}")
        elif name == "img" and not HAS_ALT.search(attrs):
            src = SRC.search(attrs)
            problems.append(f"image without alt text: {src.group(1) if src else '(no src)'}")
        elif name in ACTIVE_TAGS:
            problems.append(f"<{name}> element in the email")
    return sorted(set(problems), key=problems.index)


def html_size(html: str) -> int:
    return len(html.encode("utf-8"))


def html_problems(
    html: str, postal_address: str, unsubscribe_marker: str = placeholders.UNSUBSCRIBE_URL
) -> list[str]:
    """What is wrong with the HTML part: size, tags (see tag_problems), footer."""
    problems: list[str] = []
    size = html_size(html)
    if size > MAX_HTML_BYTES:
        problems.append(
            f"HTML is {size / 1024:.1f} KB, over the {MAX_HTML_BYTES // 1024} KB limit "
            "(Gmail clips at ~102 KB): fewer items or shorter excerpts"
        )
    problems.extend(tag_problems(html))
    return problems + _footer_problems("HTML", html, postal_address, unsubscribe_marker)


def text_problems(
    text: str, postal_address: str, unsubscribe_marker: str = placeholders.UNSUBSCRIBE_URL
) -> list[str]:
    """What is wrong with the text part: its footer."""
    return _footer_problems("text", text, postal_address, unsubscribe_marker)


def raise_problems(problems: list[str]) -> None:
    """Raise RenderCheckError listing every problem, if there is any."""
    if problems:
        raise RenderCheckError("rendered email failed checks:\n- " + "\n- ".join(problems))


def _footer_problems(part: str, body: str, postal_address: str, marker: str) -> list[str]:
    problems: list[str] = []
    if not _has(body, postal_address) and not _has(body, str(escape(postal_address))):
        problems.append(f"{part} part lacks the postal address")
    link = f'href="{marker}"' if part == "HTML" else None
    if not _has(body, marker) or (link and not _has(body, link)):
        problems.append(f"{part} part lacks the unsubscribe link")
    return problems


def _has(body: str, part: str) -> bool:
    return part in body
