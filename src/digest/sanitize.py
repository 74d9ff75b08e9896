"""Make untrusted HTML (feeds, posts, curated Markdown) safe for an email or a web page.

``sanitize_html`` keeps an allowlist of tags and attributes that email clients render,
only http/https/mailto links (``cite`` included), and drops tracking pixels (known
trackers, hidden or zero-size images), tracking parameters on links, and the ad, share
and tracker links feed services add to posts. It is the one allowlist: items are cleaned
with it when collected and the renderer cleans with it again (digest.render.filters).
``plain_text`` and ``excerpt`` turn HTML into readable text for titles, text emails and
social posts.
"""

from __future__ import annotations

import re
import threading
from html import escape, unescape
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import nh3

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del",
        "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
        "h6", "hr", "i", "img", "ins", "li", "mark", "ol", "p", "pre", "q", "s", "small",
        "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
        "time", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    # style and hidden only so _keep_image can see a hidden pixel; it writes them out.
    "img": {"src", "alt", "width", "height", "title", "style", "hidden"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
    "time": {"datetime"},
    "abbr": {"title"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed together with everything inside them, not just unwrapped.
DROP_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
     "form", "select", "textarea", "button", "head", "title"}
)  # fmt: skip

# Known open-tracking and analytics beacons found in feed content.
PIXEL_PATTERNS = re.compile(
    r"(feeds\.feedburner\.com/~r/|feeds\.feedburner\.com/~ff/|feedsportal\.com|"
    r"pixel\.wp\.com|stats\.wordpress\.com|/b\.gif\b|/pixel(\.gif|\.png)?\b|"
    r"/tracking?/|/open\.gif|/beacon|google-analytics\.com|doubleclick\.net|"
    r"pixel\.quantserve|scorecardresearch\.com|/mf\.gif|/spacer\.gif|/blank\.gif|"
    r"medium\.com/_/stat|statcounter\.com|/matomo\.php|/piwik\.php|/count(er)?\.(php|gif)|"
    r"/hit\.(php|gif)|/stats?\.(php|gif)|/t\.gif\b|chartbeat\.net|parsely\.com|"
    r"list-manage\.com/track|/wf/open|sendgrid\.net/wf|mailchimp\.com/track|"
    r"feedads\.g\.doubleclick|pheedo\.com|feedblitz\.com/[^/]*\.gif|/~a/|"
    r"analytics\.|/analytics/|counter\.|nojs\.gif|1x1\.(gif|png)|/px\.(gif|png))",
    re.IGNORECASE,
)
# Links that are not part of the story: feed ads, FeedBurner's "flare", share buttons.
JUNK_LINKS = re.compile(
    r"(feeds\.feedburner\.com/~ff/|feeds\.feedburner\.com/~a/|feedads\.g\.doubleclick|"
    r"feedproxy\.google\.com/~a/|pheedo\.com|feedsportal\.com/(ad|share)|"
    r"facebook\.com/sharer|facebook\.com/share\.php|(twitter|x)\.com/(intent/|share\b)|"
    r"linkedin\.com/(shareArticle|sharing/|cws/share)|pinterest\.com/pin/create|"
    r"reddit\.com/submit|tumblr\.com/(share|widgets/share)|addtoany\.com|sharethis\.com|"
    r"api\.whatsapp\.com/send|telegram\.me/share|t\.me/share|getpocket\.com/save|"
    r"bsky\.app/intent/|/share\?|[?&]share=(facebook|twitter|email|linkedin|reddit|print)|"
    r"[?&]action=share\b)",
    re.IGNORECASE,
)
# Query parameters that only tell the publisher where a click came from.
TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]*|fbclid|gclid|dclid|msclkid|yclid|mc_cid|mc_eid|_hsenc|_hsmi|mkt_tok|"
    r"igshid|ref_src|wt\.mc_id|__s|vero_id|oly_enc_id|oly_anon_id|rss_source)$",
    re.IGNORECASE,
)
# Medium's `?source=rss----…` and `?source=post_page---…`, WordPress's `?source=rss`,
# FeedBurner's `?rss=1`.
TRACKING_VALUES = re.compile(
    r"^(source=(rss|post_page)[^&]*|rss=1|ref=rss[^&]*|from=rss[^&]*)$", re.IGNORECASE
)
COLUMN_PX = 600  # the email's content width: wider images lose their fixed size
PRE_STYLE = "white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere"
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ANCHOR = re.compile(r'<a\b[^>]*?\bhref="([^"]*)"[^>]*>(.*?)</a>', re.IGNORECASE | re.DOTALL)
_EMPTY_BLOCK = re.compile(
    r"<(p|div|span|figure|li|ul|ol|strong|em|b|i|small|h[1-6]|a)(?: [^>]*)?>"
    r"(?:\s|&nbsp;|\u00a0|<br>|\|)*</\1>"
)
_HIDDEN_STYLE = re.compile(
    r"(display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(\.0*)?\s*(;|$)|"
    r"(?<![-\w])(max-)?(width|height)\s*:\s*[01](\.0*)?(px)?\s*(;|$))",
    re.IGNORECASE,
)
_KEPT_IMG_ATTRS = ("src", "alt", "width", "height", "title")
_CITE = re.compile(r' cite="([^"]*)"')
_ATTR = re.compile(r'([a-z-]+)="([^"]*)"')
_WS = re.compile(r"\s+")
_BLOCKS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
     "table", "blockquote", "pre", "hr", "figure", "figcaption", "dd", "dt", "section",
     "article", "header", "footer"}
)  # fmt: skip


def sanitize_html(html: str, base_url: str | None = None) -> str:
    """Allowlisted, pixel-free HTML. Relative links resolve against ``base_url`` if given
    (and it is an http/https URL), and are dropped otherwise (they would point nowhere
    from an inbox)."""
    if not html or not html.strip():
        return ""
    _base.url = base_url
    try:
        cleaned = _CLEANER.clean(html)
        # Attributes are fixed up on the output (a few scans), not by nh3's
        # attribute_filter: a Python callback per attribute cost more than the clean.
        if " cite=" in cleaned:
            cleaned = _CITE.sub(_checked_cite, cleaned)
    finally:
        _base.url = None
    if "<img" in cleaned:
        cleaned = _IMG.sub(_keep_image, cleaned)
    if "<a " in cleaned:
        cleaned = _ANCHOR.sub(_keep_link, cleaned)
    return drop_empty_blocks(cleaned).strip()


def allowlisted(html: str) -> str:
    """The allowlist alone (tags, attributes, URL schemes, pixel-free images): for HTML
    that went through ``sanitize_html`` when collected and is cleaned again on its way
    into an email (``digest.render.filters.clean_html``), so a page never carries markup
    the allowlist refuses, without redoing the per-link content rules."""
    if not html:
        return ""
    cleaned: str = _CLEANER.clean(html)
    if " cite=" in cleaned:
        cleaned = _CITE.sub(_checked_cite, cleaned)
    return _IMG.sub(_keep_image, cleaned) if "<img" in cleaned else cleaned


def strip_tracking(url: str) -> str:
    """``url`` without its click-tracking query parameters (``utm_*``, ``fbclid``,
    Medium's ``source=rss…``…); everything else is left exactly as written."""
    if "?" not in url:
        return url
    head, _, rest = url.partition("?")
    query, hash_mark, fragment = rest.partition("#")
    kept = [
        part for part in query.replace("&amp;", "&").split("&") if part and not _is_tracking(part)
    ]
    fragment_part = hash_mark + fragment
    return head + ("?" + "&".join(kept) if kept else "") + fragment_part


def _is_tracking(part: str) -> bool:
    name = part.split("=", 1)[0]
    return bool(TRACKING_PARAMS.match(name) or TRACKING_VALUES.match(part))


def is_junk_link(url: str) -> bool:
    """A feed ad, FeedBurner flare or share-button link (not part of the story)."""
    return bool(JUNK_LINKS.search(url))


def _checked_cite(match: re.Match[str]) -> str:
    """``cite`` (which nh3's URL rules do not check) keeps only http/https addresses,
    relative ones resolved against the base URL."""
    value = unescape(match.group(1)).strip(_C0_SPACE)
    scheme = urlsplit(value).scheme.lower() if ":" in value else ""
    if scheme:
        kept: str | None = value if scheme in ("http", "https") else None
    else:
        kept = _resolve_relative(value)
    return f' cite="{escape(kept)}"' if kept else ""


# The base URL for the relative links of the fragment being cleaned right now. One
# Cleaner built once is ~3.5x faster than nh3.clean() building one per call; the base
# differs per item, so the cleaner's URL callback reads it from here (per thread).
_base = threading.local()
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~"


def _resolve_relative(url: str) -> str | None:
    """nh3 calls this for each relative href/src: the absolute URL, or None to drop it.

    Resolved the way a browser would (WHATWG URL rules for http/https: surrounding
    whitespace and tabs/newlines dropped, backslashes read as slashes, an empty path
    becomes "/"), unsafe characters percent-encoded. Anything that does not come out as
    an http/https URL with a host is dropped: no base, a base of another scheme (a
    ``javascript:`` entry link must not turn ``#top`` into a script), or a malformed one.
    """
    base = getattr(_base, "url", None)
    if not base:
        return None
    reference = _URL_NOISE.sub("", url.strip(_C0_SPACE)).replace("\\", "/")
    if reference.startswith("///"):
        return None  # browsers read the third slash's segment as the host; ambiguous
    try:
        parts = urlsplit(urljoin(base, reference))
    except ValueError:  # e.g. a malformed IPv6 host in the base
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    fragment = parts.fragment if reference else ""  # "" means the base document itself
    userinfo, at, host = parts.netloc.rpartition("@")
    joined = urlunsplit(
        parts._replace(
            scheme=parts.scheme.lower(),
            netloc=userinfo + at + host.lower(),
            path=parts.path or "/",
            fragment=fragment,
        )
    )
    return quote(joined, safe=_URL_SAFE)


_C0_SPACE = "".join(chr(c) for c in range(0x21))
_URL_NOISE = re.compile(r"[\t\n\r]")
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROP_WITH_CONTENT),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    link_rel="noopener noreferrer",
    strip_comments=True,
    url_relative=_resolve_relative,
    # Code blocks wrap inside the column instead of widening the email on a phone.
    set_tag_attribute_values={"pre": {"style": PRE_STYLE}},
)


def _keep_image(match: re.Match[str]) -> str:
    """Drop images that only track opens (known trackers, hidden, zero or one pixel in
    either direction), or that lost their source to the sanitizer. Kept images are
    written again without style: no fixed width over the column (they scale), and a
    height only alongside the width it belongs to (never a stretched thumbnail)."""
    tag = match.group(0)
    attrs = {name.lower(): value for name, value in _ATTR.findall(tag)}
    src = unescape(attrs.get("src", ""))
    if not src or PIXEL_PATTERNS.search(src):
        return ""
    if "hidden" in attrs or _HIDDEN_STYLE.search(unescape(attrs.get("style", ""))):
        return ""
    width, height = _size(attrs.get("width")), _size(attrs.get("height"))
    if (width is not None and width <= 2) or (height is not None and height <= 2):
        return ""
    if width is None or width > COLUMN_PX:
        attrs.pop("width", None)
        attrs.pop("height", None)
    kept = "".join(f' {n}="{attrs[n]}"' for n in _KEPT_IMG_ATTRS if n in attrs)
    return f"<img{kept}>"


def _size(value: str | None) -> int | None:
    digits = (value or "").strip().lower().removesuffix("px").strip()
    return int(digits) if digits.isdigit() else None


def _keep_link(match: re.Match[str]) -> str:
    """Ad, flare and share links go with what they show (a button, a pixel); the others
    lose their tracking parameters."""
    href = unescape(match.group(1))
    if is_junk_link(href):
        return ""
    if "?" not in href:
        return match.group(0)
    clean = escape(strip_tracking(href))
    return match.group(0).replace(f'href="{match.group(1)}"', f'href="{clean}"', 1)


def drop_empty_blocks(html: str) -> str:
    """Wrappers left empty once their pixel or share links are gone."""
    html, found = _EMPTY_BLOCK.subn("", html)
    while found:  # their own wrappers may be empty now
        html, found = _EMPTY_BLOCK.subn("", html)
    return html


class _TextCollector(HTMLParser):
    def __init__(self, paragraphs: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.paragraphs = paragraphs

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_WITH_CONTENT:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n\n" if self.paragraphs else " ")

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_WITH_CONTENT:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n" if self.paragraphs else " ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def plain_text(html: str, paragraphs: bool = False) -> str:
    """Readable text from HTML: tags and scripts gone, entities decoded, whitespace
    collapsed (to single spaces, or keeping blank lines between blocks if ``paragraphs``)."""
    if not html:
        return ""
    collector = _TextCollector(paragraphs)
    collector.feed(html)
    collector.close()
    text = "".join(collector.parts)
    if not paragraphs:
        return _WS.sub(" ", text).strip()
    blocks = (_WS.sub(" ", block).strip() for block in text.split("\n\n"))
    return "\n\n".join(block for block in blocks if block)


def excerpt(html: str, max_chars: int) -> str:
    """Plain text of at most ``max_chars`` characters, cut at a word boundary with '…'."""
    text = plain_text(html)
    if len(text) <= max_chars:
        return text
    cut = text[: max(0, max_chars - 1)]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


# What a recipient marker (digest.render.placeholders) looks like to a defender: ``%%``
# then DIGEST_, any case, any spacing a renderer might keep. U+2060 WORD JOINER breaks
# the sequence invisibly. Here, below sources and render, because both defuse it.
MARKER_LIKE = re.compile(r"%(\s*)%(?=\s*digest)", re.IGNORECASE)
MARKER_JOINER = "\u2060"


def neutralise_content(text: str) -> str:
    """Collected text with every marker-like ``%%DIGEST`` defused (shown the same)."""
    if "%" not in text:
        return text
    return MARKER_LIKE.sub(lambda m: f"%{m.group(1)}{MARKER_JOINER}%", text)
