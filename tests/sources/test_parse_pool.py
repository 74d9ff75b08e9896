"""Feeds parsed in worker processes: same items, same errors, and a safe way to start them."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.models import RunReport
from digest.sources import POOL_MIN_FEEDS, collect, collect_async, parse_pool
from digest.store.tables import ItemRow

ORIGIN = {"name": "Somebody"}
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<rss version="2.0"><channel><title>&b;</title><item><title>&b;</title></item></channel></rss>"""


def rss(title: str, link: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
        f"<item><title>{title}</title><link>{link}</link>"
        "<pubDate>Wed, 18 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()


needs_two_cores = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="the pool only starts with two or more cores"
)


def feed_sources(server, count: int) -> dict[str, dict[str, object]]:
    sources: dict[str, dict[str, object]] = {}
    for n in range(count):
        server.add(f"/f{n}", rss(f"Story {n}", f"https://local{n}.example.org/1"))
        sources[f"f{n}"] = {"type": "feed", "url": server.url(f"/f{n}"), "origin": ORIGIN}
    return sources


def test_source_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(SourceError("local1", "not a readable feed")))
    assert (error.source_id, error.message) == ("local1", "not a readable feed")
    assert str(error) == "source 'local1': not a readable feed"


def test_few_feeds_get_no_pool() -> None:
    with parse_pool(POOL_MIN_FEEDS - 1) as pool:
        assert pool is None


@needs_two_cores
def test_a_pool_started_from_a_worker_thread_runs_in_other_processes() -> None:
    """The scheduler calls collect from a thread: no fork there, but still a real pool."""
    pids: list[int] = []

    def in_thread() -> None:
        with parse_pool(POOL_MIN_FEEDS) as pool:
            assert pool is not None
            pids.append(pool.submit(os.getpid).result(timeout=60))

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(90)
    assert pids and pids[0] != os.getpid()


@needs_two_cores
def test_many_feeds_through_the_pool_give_items_and_named_errors(
    server, local_settings, store, now
):
    sources = feed_sources(server, POOL_MIN_FEEDS + 4)
    server.add("/bomb", BOMB)
    server.add("/page", b"<html><body>hi</body></html>", content_type="text/html")
    for name in ("bomb", "page"):
        sources[name] = {"type": "feed", "url": server.url(f"/{name}"), "origin": ORIGIN}
    report = RunReport()
    collect(local_settings(sources), store, report, now=now)

    assert (report.sources_read, report.sources_failed) == (POOL_MIN_FEEDS + 4, 2)
    assert report.items_new == POOL_MIN_FEEDS + 4
    failures = {w.split("'")[1]: w for w in report.warnings if "failed" in w}
    assert "SourceError: refused" in failures["bomb"] and "<!ENTITY>" in failures["bomb"]
    assert "SourceError: not a readable feed" in failures["page"]
    with store.session() as session:
        titles = {row.data["title"] for row in session.query(ItemRow)}
    assert {f"Story {n}" for n in range(POOL_MIN_FEEDS + 4)} == titles


def test_a_broken_pool_falls_back_to_parsing_here(server, local_settings, store, now):
    sources = feed_sources(server, 3)
    broken: Executor = ProcessPoolExecutor(1)
    with pytest.raises(BrokenProcessPool):  # its only worker died
        broken.submit(os._exit, 1).result(timeout=60)
    report = RunReport()
    try:
        asyncio.run(collect_async(local_settings(sources), store, report, now=now, cpu_pool=broken))
    finally:
        broken.shutdown()
    assert (report.sources_read, report.sources_failed, report.items_new) == (3, 0, 3)


@needs_two_cores
def test_a_single_threaded_program_forks_its_workers(tmp_path: Path, raw_config) -> None:
    """A plain `digest collect` is single-threaded: the cheap fork start is used, and the
    feeds (local files here) are parsed in the workers."""
    raw_config["sources"] = {}
    for n in range(POOL_MIN_FEEDS):
        path = tmp_path / f"f{n}.xml"
        path.write_bytes(rss(f"Story {n}", f"https://l{n}.example.org/1"))
        raw_config["sources"][f"f{n}"] = {"type": "feed", "path": str(path), "origin": ORIGIN}
    script = textwrap.dedent(
        f"""
        import json
        from datetime import UTC, datetime
        from pathlib import Path

        import digest.sources as sources
        from digest.config import validate_config
        from digest.models import RunReport
        from digest.store import open_store

        chosen = []
        decide = sources._safe_start_method
        sources._safe_start_method = lambda: chosen.append(decide()) or chosen[-1]
        raw = json.loads({json.dumps(raw_config)!r})
        settings = validate_config(raw, base_dir=Path({str(tmp_path)!r}))
        report = RunReport()
        store = open_store(settings.store.url)
        sources.collect(settings, store, report, now=datetime(2026, 11, 20, tzinfo=UTC))
        print(chosen, report.sources_read, report.items_new, report.warnings)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"['fork'] {POOL_MIN_FEEDS} {POOL_MIN_FEEDS} []"
