"""Structural checks on a rendered email, run before it can be stored or sent."""

from __future__ import annotations

from html.parser import HTMLParser

from markupsafe import escape

from digest.errors import RenderCheckError
from digest.render import placeholders

# Gmail clips messages over ~102 KB; fail well before that.
MAX_HTML_BYTES = 100 * 1024
# Never in an email: mail clients block them and they are what an injection looks like.
ACTIVE_TAGS = {"script", "iframe", "object", "embed", "form"}


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images_without_alt: list[str] = []
        self.active_tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE_TAGS:
            self.active_tags.append(tag)
        if tag == "img" and "alt" not in dict(attrs):
            self.images_without_alt.append(dict(attrs).get("src") or "(no src)")


def html_size(html: str) -> int:
    return len(html.encode("utf-8"))


def check_email(html: str, text: str, postal_address: str) -> None:
    """Raise RenderCheckError listing every problem found in the email."""
    problems: list[str] = []
    if "<mj-" in html:
        start = html.index("<mj-")
        problems.append(f"MJML tag left in the HTML: {html[start : start + 40]!r}")
    size = html_size(html)
    if size > MAX_HTML_BYTES:
        problems.append(
            f"HTML is {size / 1024:.1f} KB, over the {MAX_HTML_BYTES // 1024} KB limit "
            "(Gmail clips at ~102 KB): fewer items or shorter excerpts"
        )
    scan = _Scan()
    scan.feed(html)
    scan.close()
    problems.extend(f"image without alt text: {src}" for src in scan.images_without_alt)
    problems.extend(f"<{tag}> element in the email" for tag in sorted(set(scan.active_tags)))
    for part, body in (("HTML", html), ("text", text)):
        if postal_address not in body and str(escape(postal_address)) not in body:
            problems.append(f"{part} part lacks the postal address")
        link = f'href="{placeholders.UNSUBSCRIBE_URL}"' if part == "HTML" else None
        if placeholders.UNSUBSCRIBE_URL not in body or (link and link not in body):
            problems.append(f"{part} part lacks the unsubscribe link")
    if problems:
        raise RenderCheckError("rendered email failed checks:\n- " + "\n- ".join(problems))
