"""A well-formed local feed reads without warnings (local files carry no Content-Type)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from digest.config import Settings
from digest.models import RunReport
from digest.sources import collect
from digest.store import Store

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local</title><link>https://local.example.org/</link>
<item><title>One</title><link>https://local.example.org/1</link><guid>1</guid>
<pubDate>Thu, 19 Nov 2026 12:00:00 -0500</pubDate></item></channel></rss>"""


def test_local_feed_reads_without_warnings(
    make_settings: Callable[..., Settings], store: Store, now: datetime, tmp_path: Path
) -> None:
    path = tmp_path / "local.xml"
    path.write_text(RSS, encoding="utf-8")
    settings = make_settings(
        sources={"local": {"type": "feed", "path": str(path), "origin": {"name": "Local"}}}
    )
    report = RunReport()
    collect(settings, store, report, now=now)
    assert report.warnings == []
    assert (report.sources_read, report.items_new) == (1, 1)
