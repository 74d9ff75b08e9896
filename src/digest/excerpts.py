"""The words of a feed entry: a title when the post has none, and an excerpt that is one.

Feeds put anything in a description: a whole article with its share buttons (Drupal,
9 KB), "The post … appeared first on …" (WordPress), a photo and no words (Tumblr), or
nothing but the text of a short post (Bluesky, Mastodon). An excerpt here is the first
real paragraph or two, cut at a sentence (or a word) under a length; a missing title
comes from the first words of the text, never from the URL.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from digest.sanitize import drop_empty_blocks, plain_text, strip_tracking

TITLE_CHARS = 80
# A paragraph that is the feed's furniture, not the story.
BOILERPLATE = re.compile(
    r"^(the post .{1,300} appeared first on .{1,200}|continue reading\b.*|read more\b.*|"
    r"read the (full|rest of the|whole) (story|article|post|piece)\b.*|"
    r"click here to (read|continue)\b.*|"
    r"(share|like) this( post| story| article)?:?.*|share on\b.*|tweet( this)?|"
    r"related( posts| stories)?:?|filed under\b.*|tags?:.*|posted in\b.*|"
    r"(this|the) (entry|article|post) was (posted|published)\b.*|"
    r"view (this )?(post|video|photo)s? on\b.*|\[?(…|\.\.\.|&hellip;)\]?|"
    r"(photo|image|video) (credit|courtesy)?:.*|advertisement|sponsored|share|subscribe|"
    r"thanks for reading\b.{0,120}\bsubscribe\b.*|subscribe (now|for free|to)\b.*)$",
    re.IGNORECASE,
)
# Inline furniture at the end of a paragraph: WordPress's " […] Continue reading →".
TRAILING = re.compile(
    r"\s*(\[(…|\.\.\.|&hellip;)\]|(continue reading|read more)\b[^.]{0,80})\s*(→|»)?\s*$",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]?(?=\s|$)")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-f]+|[a-z][a-z0-9]{1,7});", re.IGNORECASE)
# Placeholders some services put where a post has no title (Tumblr's photo posts).
PLACEHOLDER_TITLES = frozenset(
    {"photo", "video", "audio", "quote", "link", "chat", "untitled", "(untitled)", "no title"}
)
# Blocks that are not the story's prose: headings, code, captions, tables.
_NOT_PROSE = re.compile(r"<(h[1-6]|pre|figcaption|table)\b.*?</\1>", re.IGNORECASE | re.DOTALL)
_BLOCK_NAMES = "p|div|h[1-6]|li|ul|ol|figure|table|blockquote|section"
# A block holding no other block: its text can be judged alone.
_LEAF_BLOCK = re.compile(
    rf"<(p|h[1-6]|li|div|span)>((?:(?!<(?:{_BLOCK_NAMES})\b).)*?)</\1>", re.IGNORECASE | re.DOTALL
)
_URL = re.compile(r"https?://[^\s<>\"']+")


def clean_title(value: str, is_html: bool) -> str:
    """A title as plain text. Tumblr and others escape their titles twice
    (``&amp;amp;``): entities still left once decoded are decoded again."""
    text = plain_text(value) if is_html else " ".join(value.split())
    if _ENTITY.search(text):
        text = " ".join(plain_text(html.unescape(text)).split())
    return "" if text.casefold() in PLACEHOLDER_TITLES else text


def title_from_text(text_html: str, limit: int = TITLE_CHARS) -> str:
    """A headline for a post without one: its first sentence, or its first words
    (addresses left out: a bare link is not a headline)."""
    words = (" ".join(_URL.sub("", p).split()) for p in real_paragraphs(text_html))
    paragraphs = [p for p in words if len(p.strip(" .,:;-–—")) > 1]
    if not paragraphs:
        return ""
    first = paragraphs[0]
    end = SENTENCE_END.search(first)
    if end and end.end() <= limit:
        return first[: end.end()].strip()
    return cut(first, limit)


def real_paragraphs(text_html: str, title: str = "") -> list[str]:
    """The text's prose paragraphs, without the feed's furniture, headings, code,
    captions, or a repeat of the title (Drupal prints it again in the description)."""
    found = []
    prose = _NOT_PROSE.sub("\n\n", text_html) if "<" in text_html else text_html
    for paragraph in plain_text(prose, paragraphs=True).split("\n\n"):
        text = strip_tracking_in_text(TRAILING.sub("", paragraph).strip())
        if text and not BOILERPLATE.match(text) and text.casefold() != title.casefold():
            found.append(text)
    return found


def strip_tracking_in_text(text: str) -> str:
    """Web addresses written in the text, without their tracking parameters."""
    return _URL.sub(lambda m: strip_tracking(m.group(0)), text) if "http" in text else text


def strip_boilerplate(body: str, title: str = "") -> str:
    """The body without its furniture blocks ("The post … appeared first on …",
    "Share this:", "Thanks for reading … Subscribe") or a repeat of the title."""
    if not body:
        return body
    folded = title.casefold()

    def keep(match: re.Match[str]) -> str:
        text = TRAILING.sub("", plain_text(match.group(2))).strip()
        junk = text and (BOILERPLATE.match(text) or text.casefold() == folded)
        return "" if junk else match.group(0)

    return drop_empty_blocks(_LEAF_BLOCK.sub(keep, body)).strip()


def excerpt_paragraphs(
    text_html: str, limit: int, strip_leads: Iterable[str] = (), title: str = ""
) -> list[str]:
    """The first real paragraph(s) of ``text_html``, at most ``limit`` characters in all:
    whole paragraphs while they fit, else the first one cut at its last sentence (or
    word) under the limit."""
    paragraphs = strip_lead_sentences(real_paragraphs(text_html, title), strip_leads)
    chosen: list[str] = []
    used = 0
    for paragraph in paragraphs:
        if used + len(paragraph) > limit:
            if not chosen:
                chosen.append(cut_at_sentence(paragraph, limit))
            break
        chosen.append(paragraph)
        used += len(paragraph) + 2
    return chosen


def excerpt_html(
    text_html: str, limit: int, strip_leads: Iterable[str] = (), title: str = ""
) -> str:
    """``excerpt_paragraphs`` as escaped ``<p>`` paragraphs ("" when there is no text)."""
    return "".join(
        f"<p>{html.escape(p, quote=False)}</p>"
        for p in excerpt_paragraphs(text_html, limit, strip_leads, title)
    )


def strip_lead_sentences(paragraphs: list[str], leads: Iterable[str]) -> list[str]:
    """Drop a series' known opening sentence(s) from the start of the text (compared
    without case or spacing differences); a paragraph left empty goes."""
    wanted = [" ".join(lead.split()).casefold() for lead in leads if lead.strip()]
    if not wanted or not paragraphs:
        return paragraphs
    first = paragraphs[0]
    stripped = True
    while stripped and first:  # the leads may be given one sentence each
        stripped = False
        for lead in wanted:
            if " ".join(first.split()).casefold().startswith(lead):
                first = _after(first, len(lead)).lstrip(" .,;:—–-")
                stripped = True
    return ([first] if first else []) + paragraphs[1:]


_FIRST_PARAGRAPH = re.compile(r"<p>([^<]*)</p>")


def strip_lead_html(text_html: str, leads: Iterable[str]) -> str:
    """``strip_lead_sentences`` on HTML: the known lead is dropped from the first
    paragraph when that paragraph is plain words (an excerpt always is)."""
    match = _FIRST_PARAGRAPH.search(text_html)
    if not match or plain_text(text_html[: match.start()]):
        return text_html
    words = html.unescape(match.group(1))
    kept = strip_lead_sentences([words], leads)
    if kept == [words]:
        return text_html
    paragraph = f"<p>{html.escape(kept[0], quote=False)}</p>" if kept else ""
    return text_html[: match.start()] + paragraph + text_html[match.end() :]


def _after(text: str, normalized_length: int) -> str:
    """``text`` after its first ``normalized_length`` characters counted with single
    spaces (how the lead was compared)."""
    count = 0
    for index, char in enumerate(text):
        if count >= normalized_length:
            return text[index:]
        if not (char.isspace() and index and text[index - 1].isspace()):
            count += 1
    return ""


def cut_at_sentence(text: str, limit: int) -> str:
    """``text`` cut after its last full sentence within ``limit`` characters, or at a
    word with "…" when the first sentence alone is longer than half of it."""
    if len(text) <= limit:
        return text
    ends = [m.end() for m in SENTENCE_END.finditer(text, 0, limit + 1)]
    if ends and ends[-1] > limit // 2:
        return text[: ends[-1]].strip()
    return cut(text, limit)


def cut(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with "…"."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - 1)]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:.-–—") + "…"
