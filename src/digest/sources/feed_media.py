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
from digest.sanitize import strip_tracking

IMAGE_EXTENSIONS = re.compile(r"\.(jpe?g|png|gif|webp|avif)(\?|$)", re.IGNORECASE)
NOT_IMAGES = re.compile(r"(youtube(-nocookie)?\.com/(v|embed)/|\.swf(\?|$))", re.IGNORECASE)
# WordPress serves one upload at many sizes: photo-300x200.jpg, photo-scaled.jpg.
_SIZE_SUFFIX = re.compile(r"-(\d+x\d+|scaled|e\d{10,})(?=\.\w+$)")
_IMG_TAG = re.compile(r'<img\b[^>]*\bsrc="([^"]*)"[^>]*>', re.IGNORECASE)
_EMPTY_FIGURE = re.compile(
    r"<(figure|p|a[^>]*)>\s*(<figcaption>\s*</figcaption>)?\s*</(figure|p|a)>"
)
THUMBNAIL_PX = 300  # a picture narrower than this is a thumbnail, not a lead image


def xml_media(entry: Any) -> tuple[Media, ...]:
    """An entry's images, biggest-first among those whose width is known."""
    found: list[tuple[Media, int | None]] = []
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            found.append((Media(str(link.get("href", ""))), None))
    for key in ("media_content", "media_thumbnail"):
        for media in entry.get(key, []):
            url = str(media.get("url") or "")
            if url and _is_image(media, url, thumbnail=key == "media_thumbnail"):
                found.append((Media(url), _width(media.get("width"))))
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

    return _EMPTY_FIGURE.sub("", _IMG_TAG.sub(keep, body)).strip()


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
