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


# Fast pre-scan: every place a problem could be. Only if one is found does the exact
# (slower) tokenizer run, so a '<script>' typed into an alt text never fails an email.
SUSPECT_NAMES = ("script", "iframe", "object", "embed", "form")


def _any_case(word: str) -> str:
    """``word`` as a case-insensitive pattern without re.I (which makes sre try every
    '<' of the email much more slowly)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


SUSPECT = re.compile(
    "<(?:" + "|".join([_any_case("mj-")] + [_any_case(n) + r"\b" for n in SUSPECT_NAMES]) + ")"
)
IMG_START = re.compile(r"<img\b", re.I)
IMG_AT = re.compile(r"""<img\b((?:[^>"']+|"[^"]*"|'[^']*')*)>""", re.I)


def tag_problems(html: str) -> list[str]:
    """Leftover MJML, images without alt, active tags: fast path for clean emails."""
    suspect = SUSPECT.search(html) is not None
    if not suspect:
        for start in IMG_START.finditer(html):
            tag = IMG_AT.match(html, start.start())
            if tag is None or not HAS_ALT.search(tag.group(1)):
                suspect = True
                break
    return scan_tags(html) if suspect else []


def scan_tags(html: str) -> list[str]:
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


def check_email(html: str, text: str, postal_address: str) -> None:
    """Raise RenderCheckError listing every problem found in the email."""
    problems: list[str] = []
    size = html_size(html)
    if size > MAX_HTML_BYTES:
        problems.append(
            f"HTML is {size / 1024:.1f} KB, over the {MAX_HTML_BYTES // 1024} KB limit "
            "(Gmail clips at ~102 KB): fewer items or shorter excerpts"
        )
    problems.extend(tag_problems(html))
    for part, body in (("HTML", html), ("text", text)):
        if postal_address not in body and str(escape(postal_address)) not in body:
            problems.append(f"{part} part lacks the postal address")
        link = f'href="{placeholders.UNSUBSCRIBE_URL}"' if part == "HTML" else None
        if placeholders.UNSUBSCRIBE_URL not in body or (link and link not in body):
            problems.append(f"{part} part lacks the unsubscribe link")
    if problems:
        raise RenderCheckError("rendered email failed checks:\n- " + "\n- ".join(problems))
