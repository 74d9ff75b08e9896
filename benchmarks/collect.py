"""Collect benchmark: N small RSS feeds, each answered after a delay, read two ways.

(a) the reference: one fetch after another, each parsed with feedparser from bytes;
(b) digest's collect over a config with those N feed sources (concurrent, guarded client).
Then a second digest collect of the unchanged feeds shows the conditional requests (304s).

    .venv/bin/python benchmarks/collect.py [--feeds 200] [--delay 0.3]

The last line is ``collect_speedup=<sequential seconds / digest seconds>``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import feedparser
import httpx

from digest.config import validate_config
from digest.models import RunReport
from digest.sources import collect
from digest.store import open_store


def feed_xml(index: int, now: datetime) -> bytes:
    items = []
    for n in range(10):
        when = format_datetime(now - timedelta(hours=6 * n + index % 6))
        items.append(
            f"<item><title>Local {index} update {n}</title>"
            f"<link>https://local{index}.example.org/posts/{n}</link>"
            f"<guid>https://local{index}.example.org/posts/{n}</guid>"
            f"<pubDate>{when}</pubDate>"
            f"<description>&lt;p&gt;Members of local {index} met about item {n}.&lt;/p&gt;"
            f"</description></item>"
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Local {index}</title><link>https://local{index}.example.org/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def serve(port_out: Any, counters: Any, feeds: int, delay: float, ready: Any) -> None:
    """Runs in its own process so the server's threads do not share the client's GIL."""
    now = datetime.now(UTC)
    bodies = {f"/feed/{i}.xml": feed_xml(i, now) for i in range(feeds)}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = bodies.get(self.path)
            time.sleep(delay)
            if body is None:
                self.send_error(404)
                return
            etag = f'"{self.path}-v1"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                with lock:
                    counters[1] += 1
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)
            with lock:
                counters[0] += 1
                counters[2] += len(body)

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024
        daemon_threads = True

    httpd = Server(("127.0.0.1", 0), Handler)
    port_out.value = httpd.server_address[1]
    ready.set()
    httpd.serve_forever()


def sequential(urls: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    entries = 0
    with httpx.Client(timeout=30) as client:
        for url in urls:
            parsed = feedparser.parse(client.get(url).content)
            entries += len(parsed.entries)
    return time.perf_counter() - start, entries


def digest_config(urls: list[str], folder: Path) -> dict[str, Any]:
    return {
        "organization": {
            "name": "Benchmark Federation",
            "postal_address": "1 Bench St, Testville",
            "site_url": "https://digest.example.org",
            "sender": {"name": "Bench", "email": "news@example.org"},
        },
        "store": {"url": f"sqlite:///{folder / 'digest.db'}"},
        "output_dir": str(folder / "out"),
        "network": {"allow_private": True, "timeout": 30},
        "sources": {
            f"local{i}": {"type": "feed", "url": url, "origin": {"name": f"Local {i}"}}
            for i, url in enumerate(urls)
        },
        "formats": {"list": {"strategy": "list", "title": "List", "template": "weekly_list"}},
        "newsletters": {"weekly": {"title": "W", "schedule": "fri 16:00", "formats": ["list"]}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.3)
    args = parser.parse_args()

    ctx = multiprocessing.get_context("fork")
    port, ready = ctx.Value("i", 0), ctx.Event()
    counters = ctx.Array("q", [0, 0, 0])  # 200 responses, 304 responses, body bytes
    server = ctx.Process(
        target=serve, args=(port, counters, args.feeds, args.delay, ready), daemon=True
    )
    server.start()
    ready.wait(10)
    urls = [f"http://127.0.0.1:{port.value}/feed/{i}.xml" for i in range(args.feeds)]
    try:
        run(urls, counters, args)
    finally:
        server.terminate()


def run(urls: list[str], counters: Any, args: argparse.Namespace) -> None:
    print(f"{args.feeds} feeds, {args.delay:g}s server delay per response")
    seq_time, seq_entries = sequential(urls)
    print(f"sequential feedparser: {seq_time:.2f}s ({seq_entries} entries)")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = validate_config(digest_config(urls, folder), base_dir=folder)
        store = open_store(settings.store.url)
        first = RunReport()
        start = time.perf_counter()
        collect(settings, store, first)
        digest_time = time.perf_counter() - start
        print(
            f"digest collect: {digest_time:.2f}s (sources read {first.sources_read}, "
            f"failed {first.sources_failed}, items new {first.items_new}, "
            f"concurrency {settings.network.concurrency})"
        )
        for warning in first.warnings[:5]:
            print("  warning:", warning)

        counters[0], counters[1], counters[2] = 0, 0, 0
        second = RunReport()
        start = time.perf_counter()
        collect(settings, store, second)
        again = time.perf_counter() - start
        print(
            f"second digest collect: {again:.2f}s, {counters[1]} of {len(urls)} responses "
            f"were 304 Not Modified, {counters[0]} full responses, "
            f"{counters[2]} body bytes transferred (items new {second.items_new}, "
            f"updated {second.items_updated})"
        )
        store.dispose()
    print(f"collect_speedup={seq_time / digest_time:.1f}")


if __name__ == "__main__":
    main()
