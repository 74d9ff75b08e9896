"""Feeds parsed in worker processes: same items, same errors, and a safe way to start them."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.models import RunReport
from digest.sources import POOL_MIN_FEEDS, collect, collect_async, parse_pool, parse_pool_for
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


def test_few_feeds_get_no_pool(settings) -> None:
    with parse_pool(POOL_MIN_FEEDS - 1) as pool:
        assert pool is None
    with parse_pool_for(settings) as pool:  # the default config has one feed
        assert pool is None


def test_no_fork_from_a_threaded_process(server, local_settings, store, now) -> None:
    """The scheduler calls collect from a worker thread (and here a server thread runs):
    no workers are forked there; feeds are parsed in a thread and still land."""
    pools: list[object] = []
    reports: list[RunReport] = []
    settings = local_settings(feed_sources(server, POOL_MIN_FEEDS + 1))

    def in_thread() -> None:
        with parse_pool(POOL_MIN_FEEDS + 1) as pool:
            pools.append(pool)
        report = RunReport()
        collect(settings, store, report, now=now)
        reports.append(report)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(60)
    assert pools == [None]
    [report] = reports
    assert (report.sources_read, report.items_new) == (POOL_MIN_FEEDS + 1, POOL_MIN_FEEDS + 1)


@needs_two_cores
def test_feeds_parsed_in_a_given_pool_give_items_and_named_errors(
    server, local_settings, store, now
):
    """Parsing in other processes: the same items, and errors still name the source."""
    sources = feed_sources(server, POOL_MIN_FEEDS + 4)
    server.add("/bomb", BOMB)
    server.add("/page", b"<html><body>hi</body></html>", content_type="text/html")
    for name in ("bomb", "page"):
        sources[name] = {"type": "feed", "url": server.url(f"/{name}"), "origin": ORIGIN}
    report = RunReport()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(os.getpid).result(timeout=60) != os.getpid()
        collect(local_settings(sources), store, report, now=now, cpu_pool=pool)

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


SCRIPT = """
import json, os, sys
from datetime import UTC, datetime
from pathlib import Path

import digest.sources as sources
from digest.config import validate_config
from digest.models import RunReport
from digest.sources import feeds
from digest.store import open_store

# Record whether collect forked, and in which processes the feeds were parsed.
forked = []
fork_is_safe = sources._fork_is_safe
sources._fork_is_safe = lambda: forked.append(fork_is_safe()) or forked[-1]
parse = feeds.parse_feed

def parse_and_tell(job):
    parsed = parse(job)
    parsed.warnings.append(f"pid {os.getpid()}")
    return parsed

feeds.parse_feed = parse_and_tell
raw, folder = json.loads(sys.argv[1]), Path(sys.argv[2])
settings = validate_config(raw, base_dir=folder)
report = RunReport()
sources.collect(settings, open_store(settings.store.url), report,
                now=datetime(2026, 11, 20, tzinfo=UTC))
pids = {w.split()[-1] for w in report.warnings if w.startswith("pid ")}
others = [w for w in report.warnings if not w.startswith("pid ")]
print(forked, str(os.getpid()) in pids, bool(pids), report.sources_read, report.items_new, others)
"""


@needs_two_cores
def test_a_single_threaded_program_forks_its_workers(tmp_path: Path, raw_config) -> None:
    """A plain `digest collect` is single-threaded: workers are forked, and the feeds
    (local files here) are parsed there, not in the collecting process."""
    raw_config["sources"] = {}
    for n in range(POOL_MIN_FEEDS):
        path = tmp_path / f"f{n}.xml"
        path.write_bytes(rss(f"Story {n}", f"https://l{n}.example.org/1"))
        raw_config["sources"][f"f{n}"] = {"type": "feed", "path": str(path), "origin": ORIGIN}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(raw_config), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # forked?, parsed in the collecting process?, parsed somewhere?, read, new, warnings
    assert done.stdout.strip() == f"[True] False True {POOL_MIN_FEEDS} {POOL_MIN_FEEDS} []"
