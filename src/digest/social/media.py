"""Images for posts: fetched through the guarded client, checked, and shrunk to fit.

Bluesky refuses a blob over 1,000,000 bytes; X accepts images up to 5 MB. An image is
decoded with Pillow before upload, so a page that is not an image is never attached.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from PIL import Image, UnidentifiedImageError

from digest.config import Settings
from digest.http import FetchError, fetch, make_client

BLUESKY_BLOB_MAX = 1_000_000
FETCH_MAX = 8_000_000
Fetcher = Callable[[str], bytes]


class ImageError(Exception):
    """The image could not be fetched, decoded or made small enough."""


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    mime: str


def make_fetcher(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> Fetcher:
    """A blocking fetch of one image URL through the guarded, bounded client."""

    def fetch_bytes(url: str) -> bytes:
        return asyncio.run(_fetch(settings, url, transport))

    return fetch_bytes


async def _fetch(settings: Settings, url: str, transport: httpx.AsyncBaseTransport | None) -> bytes:
    async with make_client(settings.network, transport) as client:
        try:
            result = await fetch(client, url, max_bytes=FETCH_MAX)
        except FetchError as exc:
            raise ImageError(str(exc)) from None
    if not result.ok:
        raise ImageError(f"{url} answered HTTP {result.status}")
    if result.truncated:
        raise ImageError(f"{url} is larger than {FETCH_MAX} bytes")
    return result.content


def prepare_image(data: bytes, max_bytes: int = BLUESKY_BLOB_MAX) -> PreparedImage:
    """The image as is when it is small enough, else re-encoded as a smaller JPEG."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except Image.DecompressionBombError as exc:  # a few KB claiming gigapixels
        raise ImageError(f"image refused: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"not an image this tool can read ({exc})") from None
    mime = Image.MIME.get(image.format or "", "")
    if len(data) <= max_bytes and mime in ("image/jpeg", "image/png", "image/webp", "image/gif"):
        return PreparedImage(data, mime)
    return PreparedImage(_shrink(image, max_bytes), "image/jpeg")


def _shrink(image: Image.Image, max_bytes: int) -> bytes:
    rgb = image.convert("RGB")
    rgb.thumbnail((2000, 2000))
    for _round in range(8):
        for quality in (85, 75, 60):
            out = io.BytesIO()
            rgb.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= max_bytes:
                return out.getvalue()
        rgb = rgb.resize((max(1, rgb.width * 3 // 4), max(1, rgb.height * 3 // 4)))
    raise ImageError(f"could not shrink the image under {max_bytes} bytes")
