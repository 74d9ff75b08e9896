"""A feed entry's pictures and sound: the lead image, and a podcast's episode.

The lead image comes from the feed's own metadata (an image enclosure, Media RSS
content or thumbnail, ``itunes:image``), never a Flash player URL (YouTube's
``media:content`` is ``youtube.com/v/…``); it is taken out of the body when the body
shows it too, so the email never shows it twice.
"""

from __future__ import annotations

import html
import re
from typing import Any

from digest.models import Media
from digest.sanitize import drop_empty_blocks, strip_tracking

IMAGE_EXTENSIONS = re.compile(r"\.(jpe?g|png|gif|webp|avif)(\?|$)", re.IGNORECASE)
NOT_IMAGES = re.compile(r"(youtube(-nocookie)?\.com/(v|embed)/|\.swf(\?|$))", re.IGNORECASE)
# WordPress serves one upload at many sizes: photo-300x200.jpg, photo-scaled.jpg.
_SIZE_SUFFIX = re.compile(r"-(\d+x\d+|scaled|e\d{10,})(?=\.\w+$)")
_IMG_TAG = re.compile(r'<img\b[^>]*\bsrc="([^"]*)"[^>]*>', re.IGNORECASE)
# What held the lead image once it is gone: an empty link, a figure left with a caption.
_EMPTY_FIGURE = re.compile(
    r"<(figure|p|a[^>]*)>\s*(<figcaption>.*?</figcaption>)?\s*</(figure|p|a)>", re.DOTALL
)
_LEADING_BREAKS = re.compile(r"^(\s|<br>)+")
THUMBNAIL_PX = 300  # a picture narrower than this is a thumbnail, not a lead image
ICON_PX = 120  # narrower still: an avatar or icon (GitHub's 30 px, Blogger's 72 px)


def xml_media(entry: Any) -> tuple[Media, ...]:
    """An entry's images, biggest-first among those whose width is known."""
    found: list[tuple[Media, int | None]] = []
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            found.append((Media(str(link.get("href", ""))), None))
    for key in ("media_content", "media_thumbnail"):
        for media in entry.get(key, []):
            url = str(media.get("url") or "")
            width = _width(media.get("width"))
            if width is not None and width < ICON_PX:
                continue
            if url and _is_image(media, url, thumbnail=key == "media_thumbnail"):
                found.append((Media(url), width))
    podcast = entry.get("image") or {}
    if isinstance(podcast, dict) and podcast.get("href"):
        found.append((Media(str(podcast["href"])), None))
    return unique_media(_big_first(found))


def _is_image(media: dict[str, Any], url: str, thumbnail: bool) -> bool:
    if NOT_IMAGES.search(url):
        return False
    if thumbnail:
        return True
    kind, medium = str(media.get("type") or ""), str(media.get("medium") or "")
    if kind or medium:
        return kind.startswith("image/") or medium == "image"
    return bool(IMAGE_EXTENSIONS.search(url))


def _width(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _big_first(found: list[tuple[Media, int | None]]) -> list[Media]:
    """Pictures of known small width (thumbnails) after the others, so the lead image
    is never a small thumbnail stretched to the column when a bigger one exists."""
    small = [m for m, w in found if w is not None and w < THUMBNAIL_PX]
    return [m for m, w in found if w is None or w >= THUMBNAIL_PX] + small


def json_media(entry: dict[str, Any]) -> tuple[Media, ...]:
    media = [Media(str(entry[key])) for key in ("image", "banner_image") if entry.get(key)]
    for attachment in entry.get("attachments") or []:
        if isinstance(attachment, dict) and str(attachment.get("mime_type", "")).startswith(
            "image/"
        ):
            media.append(Media(str(attachment.get("url", "")), str(attachment.get("title", ""))))
    return unique_media(media)


def unique_media(media: list[Media]) -> tuple[Media, ...]:
    seen: dict[str, Media] = {}
    for m in media:
        if m.url.startswith(("http://", "https://")) and m.url not in seen:
            seen[m.url] = m
    return tuple(seen.values())


def first_image(body: str) -> tuple[Media, ...]:
    """The body's first picture as the lead image, when the feed names none (Tumblr
    photo posts, Blogger, WordPress without Media RSS); sanitized HTML, so tracking
    pixels are already gone."""
    match = _IMG_TAG.search(body)
    if not match or not match.group(1).startswith(("http://", "https://")):
        return ()
    alt = re.search(r'\balt="([^"]*)"', match.group(0))
    return (Media(html.unescape(match.group(1)), html.unescape(alt.group(1)) if alt else ""),)


def same_picture(a: str, b: str) -> bool:
    """Two addresses of one picture (another size of the same upload, another scheme)."""
    return _picture_key(a) == _picture_key(b)


def _picture_key(url: str) -> str:
    bare = html.unescape(url).split("?", 1)[0].split("#", 1)[0]
    bare = bare.split("://", 1)[-1].lower()
    return _SIZE_SUFFIX.sub("", bare)


def drop_lead_image_from(body: str, media: tuple[Media, ...]) -> str:
    """The body without its copies of the lead image (the email shows that above it)."""
    if not media or "<img" not in body:
        return body
    lead = media[0].url

    def keep(match: re.Match[str]) -> str:
        return "" if same_picture(match.group(1), lead) else match.group(0)

    rest = drop_empty_blocks(_EMPTY_FIGURE.sub("", _IMG_TAG.sub(keep, body)))
    return _LEADING_BREAKS.sub("", rest).strip()


def audio_enclosure(entry: Any) -> dict[str, str] | None:
    """A podcast episode's sound file: url, type and (``itunes:duration``) duration."""
    for link in entry.get("links", []):
        kind = str(link.get("type", ""))
        href = str(link.get("href", ""))
        is_audio = link.get("rel") == "enclosure" and kind.startswith("audio/")
        if is_audio and href.startswith(("http://", "https://")):
            found = {"url": strip_tracking(href), "type": kind}
            duration = _minutes(str(entry.get("itunes_duration") or ""))
            if duration:
                found["duration"] = duration
            return found
    return None


def _minutes(value: str) -> str:
    """``itunes:duration`` (seconds, MM:SS or HH:MM:SS) as "42 min"."""
    parts = [p for p in value.strip().split(":") if p]
    if not parts or not all(p.isdigit() for p in parts):
        return ""
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return f"{max(1, round(seconds / 60))} min" if seconds else ""


def listen_link(audio: dict[str, str]) -> str:
    """The "Listen" paragraph added to a podcast episode's excerpt."""
    kind = audio["type"].split("/", 1)[-1].upper().replace("MPEG", "MP3")
    details = ", ".join(d for d in (kind, audio.get("duration", "")) if d)
    href = html.escape(audio["url"])
    return f'<p><a href="{href}" rel="noopener noreferrer">Listen ({details})</a></p>'
