"""Attack: a feed host answering with a small compressed body that inflates to hundreds
of megabytes (gzip, deflate, zstd, brotli), to exhaust the collecting machine's memory.

The byte cap bounds the decoded size as it is decoded; encodings that cannot be decoded
in bounded steps are refused. Memory is measured with tracemalloc around the collect.
"""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from datetime import datetime
from typing import Any

import pytest
import zstandard

from digest.models import RunReport
from digest.sources import collect
from digest.store import Store

from .conftest import HostileServer

INFLATED = 200 * 1024 * 1024  # what each bomb decodes to
CAP = 1_000_000  # network.max_bytes in these tests
FEED = (
    b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title><item>"
    b"<title>Compressed but honest</title><link>https://blog.example/a</link>"
    b"<pubDate>Thu, 19 Nov 2026 12:00:00 GMT</pubDate></item></channel></rss>"
)


def zeros_compressed(compressor: Any) -> bytes:
    """INFLATED bytes of '<' compressed without ever holding them in memory."""
    block = b"<" * (1024 * 1024)
    return b"".join(compressor.compress(block) for _ in range(INFLATED // len(block))) + (
        compressor.flush()
    )


def bomb(encoding: str) -> bytes:
    if encoding == "gzip":
        return zeros_compressed(zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16))
    if encoding == "deflate":
        return zeros_compressed(zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS))
    return zeros_compressed(zstandard.ZstdCompressor(level=19).compressobj())


def collect_feed(
    make_settings: Any, store: Store, now: datetime, url: str
) -> tuple[RunReport, int]:
    settings = make_settings(
        network={"allow_private": True, "max_bytes": CAP},
        sources={"bomb": {"type": "feed", "url": url, "origin": {"name": "Bomb"}}},
    )
    report = RunReport()
    tracemalloc.start()
    try:
        collect(settings, store, report, now=now)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return report, peak


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bombs_are_cut_at_the_cap_while_decoding(
    encoding: str, hostile_server: HostileServer, make_settings: Any, store: Store, now: datetime
) -> None:
    body = bomb(encoding)
    assert len(body) < INFLATED / 500
    hostile_server.routes["/bomb"] = ({"Content-Encoding": encoding}, body)
    report, peak = collect_feed(make_settings, store, now, hostile_server.url("/bomb"))
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB for a {CAP / 1e6:.0f} MB cap"
    assert report.items_new == 0
    assert any("bomb" in w for w in report.warnings)


@pytest.mark.parametrize("encoding", ["zstd", "br", "gzip, gzip"])
def test_encodings_that_cannot_be_bounded_are_refused(
    encoding: str, hostile_server: HostileServer, make_settings: Any, store: Store, now: datetime
) -> None:
    body = bomb("zstd") if encoding == "zstd" else b"\x00" * 1000
    hostile_server.routes["/bomb"] = ({"Content-Encoding": encoding}, body)
    report, peak = collect_feed(make_settings, store, now, hostile_server.url("/bomb"))
    assert peak < 40 * 1024 * 1024
    assert report.sources_failed == 1
    assert any(f"content encoding '{encoding}'" in w for w in report.warnings), report.warnings


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "identity"])
def test_honest_compressed_feeds_still_load(
    encoding: str, hostile_server: HostileServer, make_settings: Any, store: Store, now: datetime
) -> None:
    body = {
        "gzip": gzip.compress(FEED),
        "deflate": zlib.compress(FEED),  # zlib-wrapped, as RFC 9110 means by deflate
        "identity": FEED,
    }[encoding]
    hostile_server.routes["/feed"] = ({"Content-Encoding": encoding}, body)
    report, _ = collect_feed(make_settings, store, now, hostile_server.url("/feed"))
    assert (report.sources_failed, report.items_new) == (0, 1), report.warnings
