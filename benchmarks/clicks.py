"""What counting a click costs a reader: the redirect against the app's health route.

    .venv/bin/python benchmarks/clicks.py [--clients 50] [--requests 1000] [--rounds 3]

One `digest serve` app (uvicorn, one process, SQLite store) on loopback. 50 concurrent
clients (httpx, keep-alive) first hit `/healthz` (answers "ok", reads nothing), then a
tracked link `/r/<token>` of a sent edition (checks the signature, queues the click,
answers 302); the rounds alternate so both see the same machine. Every click must be in
the store afterwards. Prints both request rates and, last, `click_ratio=<redirect rate /
health rate>` (goal ≥ 0.5: counting must cost little more than answering).

The load generator runs in this process and competes with the server for the 2 cores, so
absolute rates are low; the ratio is what compares.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
import yaml  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from digest.config import load_config  # noqa: E402
from digest.reach import tracked_html  # noqa: E402
from digest.store import open_store  # noqa: E402
from digest.store.tables import ClickRow, EditionRow  # noqa: E402

NOW = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
HTML = "".join(f'<a href="https://news.example.com/story/{i}">Story {i}</a>' for i in range(20))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, port: int) -> Path:
    feed = folder / "feed.xml"
    feed.write_text("<rss version='2.0'><channel><title>t</title></channel></rss>")
    config = {
        "organization": {
            "name": "Bench Federation",
            "postal_address": "1 Bench Street",
            "site_url": f"http://127.0.0.1:{port}",
            "sender": {"name": "Bench", "email": "news@example.org"},
        },
        "signing_key": "${DIGEST_SIGNING_KEY}",  # `digest serve` refuses the demo key
        "store": {"url": f"sqlite:///{folder / 'digest.db'}"},
        "output_dir": str(folder / "out"),
        "sources": {"blog": {"type": "feed", "path": str(feed), "origin": {"name": "Blog"}}},
        "formats": {"list": {"strategy": "list", "title": "List", "template": "weekly_list"}},
        "newsletters": {
            "weekly": {"title": "Weekly", "schedule": "fri 16:00", "formats": ["list"]}
        },
        "web": {"host": "127.0.0.1", "port": port},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def tracked_paths(config: Path) -> list[str]:
    settings = load_config(config)
    store = open_store(settings.store.url)
    with store.session() as session:
        row = EditionRow(
            newsletter="weekly",
            period_key="bench",
            period_start=NOW,
            period_end=NOW,
            title="Weekly",
            subject="Bench",
            status="sent",
            sections=[],
            html=HTML,
            text="",
            web_html="",
            created_at=NOW,
        )
        session.add(row)
        session.flush()
        html = tracked_html(settings, session, row)
    store.dispose()
    prefix = settings.organization.site_url
    return [part.split('"')[0].removeprefix(prefix) for part in html.split('href="')[1:]]


async def load(base: str, paths: list[str], clients: int, requests: int) -> float:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        counter = iter(range(requests))

        async def worker(n: int) -> None:
            agent = {"user-agent": f"Mozilla/5.0 bench reader {n}"}
            for i in counter:
                response = await client.get(paths[i % len(paths)], headers=agent)
                assert response.status_code in (200, 302), response.status_code

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        return requests / (time.perf_counter() - started)


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"the app did not start on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DIGEST_SIGNING_KEY", "b" * 64)  # a throwaway key for this run
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = write_config(Path(tmp), port)
        paths = tracked_paths(config)
        env = dict(os.environ)
        digest = str(Path(sys.executable).with_name("digest"))
        server = subprocess.Popen(
            [digest, "--config", str(config), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(port)
            base = f"http://127.0.0.1:{port}"
            asyncio.run(load(base, ["/healthz"], args.clients, 200))  # warm up both routes
            asyncio.run(load(base, paths, args.clients, 200))
            health, clicks = [], []
            for _ in range(args.rounds):
                health.append(asyncio.run(load(base, ["/healthz"], args.clients, args.requests)))
                clicks.append(asyncio.run(load(base, paths, args.clients, args.requests)))
        finally:
            server.terminate()
            server.wait(timeout=30)
        store = open_store(load_config(config).store.url)
        with store.session() as session:
            stored = session.scalar(select(func.count()).select_from(ClickRow))
        expected = 200 + args.rounds * args.requests
        print(f"clients={args.clients} requests/round={args.requests} rounds={args.rounds}")
        print(f"health_rps={max(health):.0f} (rounds: {', '.join(f'{r:.0f}' for r in health)})")
        print(f"redirect_rps={max(clicks):.0f} (rounds: {', '.join(f'{r:.0f}' for r in clicks)})")
        print(f"clicks_stored={stored} of {expected}")
        if stored != expected:
            raise SystemExit("clicks were lost")
        print(f"click_ratio={max(clicks) / max(health):.2f}")


if __name__ == "__main__":
    main()
