"""Attacks on what digest logs and what it attaches to posts.

- A server echoing a credential in another encoding (hex, unpadded base64, inside an
  AUTH PLAIN blob) or a Bluesky app password without its dashes must not reach a log.
- An image that claims gigapixels (Pillow's DecompressionBombError) must be refused as
  an image problem, which posting handles by dropping the thumbnail, not by failing.
"""

from __future__ import annotations

import base64
import io
import logging
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from digest.logs import configure_logging
from digest.social.media import ImageError, prepare_image

SMTP_PASSWORD = "s3cret-Passw0rd!"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"


def test_echoed_and_reencoded_secrets_are_redacted(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RELAY_PASS", SMTP_PASSWORD)
    monkeypatch.setenv("RELAY_USER", "news@example.org")
    monkeypatch.setenv("BSKY_PW", APP_PASSWORD)  # a name that does not say "password"
    settings = make_settings(
        channels={
            "email": {
                "type": "smtp",
                "host": "127.0.0.1",
                "username": "${RELAY_USER}",
                "password": "${RELAY_PASS}",
            },
            "bluesky": {"type": "bluesky", "handle": "fed.example", "app_password": "${BSKY_PW}"},
        },
    )
    configure_logging(settings)
    raw = SMTP_PASSWORD.encode()
    leaks = {
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "urlsafe": base64.urlsafe_b64encode(b"x" + raw).decode(),
        "auth plain": base64.b64encode(b"\0news@example.org\0" + raw).decode(),
        "app password": APP_PASSWORD,
        "no dashes": APP_PASSWORD.replace("-", ""),
    }
    log = logging.getLogger("digest.test")
    for what, value in leaks.items():
        log.warning("server said: 535 %s rejected (%s)", value, what)
    log.warning("an ordinary line stays readable")
    output = capsys.readouterr().err
    for what, value in leaks.items():
        assert value not in output, what
    assert SMTP_PASSWORD not in output and "czNjcmV0LVBhc3N3MHJk" not in output
    assert output.count("[redacted]") >= len(leaks)
    assert "an ordinary line stays readable" in output


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 1024)  # far too little data: never needed
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + (chunk(b"IEND", b""))
    )


def test_an_image_decompression_bomb_is_an_image_problem(tmp_path: Path) -> None:
    bomb = png_claiming(40_000, 40_000)  # 1.6 gigapixels in a few dozen bytes
    assert len(bomb) < 200
    with pytest.raises(ImageError, match="image refused"):
        prepare_image(bomb)
    # a real image still goes through
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "PNG")
    prepared = prepare_image(out.getvalue())
    assert prepared.mime == "image/png" and prepared.data == out.getvalue()
