"""Sanitized HTML → readable plain text for the text/plain part.

Links keep their address (``text (https://…)``), paragraphs and list items keep their
breaks, everything else is reduced to its words. The input is item HTML already
cleaned by nh3, so a small tokenizer is enough.
"""

from __future__ import annotations

import html
import re

BLOCK_TAGS = {"p", "div", "blockquote", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "pre"}
# The tags that add to the text: breaks, list marks, link addresses.
TEXT_TAGS = BLOCK_TAGS | {"br", "li", "a"}
TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>|<!--.*?-->", re.S)
HREF = re.compile(r"""\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
SPACES = re.compile(r"[ \t\r\n\f\v]+")
BLANK_LINES = re.compile(r"\n{3,}")
LINK_SCHEMES = ("http://", "https://", "mailto:")


def html_to_text(source: str) -> str:
    """Plain text of an HTML fragment, paragraphs separated by one blank line."""
    tokens = TOKEN.split(source)  # text, "/" or "", tag name, attributes, text, ...
    parts: list[str] = []
    links: list[tuple[str, int]] = []  # (href, index in parts where its text starts)
    for at in range(0, len(tokens) - 1, 4):
        if tokens[at]:
            parts.append(_text(tokens[at]))
        name = tokens[at + 2]  # None for a comment
        if name and (name := name.lower()) in TEXT_TAGS:  # <strong>, <em>, …: just words
            _tag(tokens[at + 1] == "/", name, tokens[at + 3], parts, links)
    if tokens[-1]:
        parts.append(_text(tokens[-1]))
    text = "\n".join([line.strip() for line in "".join(parts).split("\n")])
    return collapse_blank_lines(text).strip()


def collapse_blank_lines(text: str) -> str:
    """At most one blank line in a row."""
    return BLANK_LINES.sub("\n\n", text)


def _text(chunk: str) -> str:
    """Text between tags, entities decoded, each run of white space one space."""
    return SPACES.sub(" ", html.unescape(chunk))


def _href(attrs: str) -> str:
    """The href of a link's attributes, entities decoded ("" if none)."""
    found = HREF.search(attrs)
    return html.unescape(next((g for g in found.groups() if g), "")) if found else ""


def _tag(
    closing: bool, name: str, attrs: str, parts: list[str], links: list[tuple[str, int]]
) -> None:
    if name in BLOCK_TAGS:
        parts.append("\n\n")
    elif name == "br":
        parts.append("\n")
    elif name == "li" and not closing:
        parts.append("\n- ")
    elif name == "a" and not closing:
        links.append((_href(attrs), len(parts)))
    elif name == "a" and links:
        href, start = links.pop()
        text = "".join(parts[start:]).strip()
        if href.startswith(LINK_SCHEMES) and href != text:
            parts.append(f" ({href})" if text else href)
