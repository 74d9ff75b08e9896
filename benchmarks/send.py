"""Throughput of `digest send` against Postfix's C load generator, in the same run.

    .venv/bin/python benchmarks/send.py --subscribers 100000
    .venv/bin/python benchmarks/send.py --subscribers 20000 --workers 3   # PostgreSQL

Both send ~20 KB messages into Postfix's `smtp-sink` on loopback. The reference is
`smtp-source -d -s 10` (C, one pre-built message, 10 parallel sessions). digest sends
personalized copies (own To, tokens, Message-ID) with the delivery ledger on, through
the real `send_edition`. Prints both rates, digest's peak RSS, and last
`send_rate_ratio=<digest_rate / smtp_source_rate>`.

With ``--workers N`` the store is PostgreSQL (``--postgres``, default
$DIGEST_TEST_POSTGRES or postgresql://postgres@127.0.0.1:5432/test, in a schema of its
own): one edition is sent by one `digest send` process, then another edition of the
same size by N processes at once; prints both rates and `scaleout_ratio=<N / 1>`.

smtp-sink and smtp-source come from the Debian postfix package, unpacked (not
installed) into ~/.cache/digest-bench when they are not on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PG = "postgresql://postgres@127.0.0.1:5432/test"
CACHE = Path(os.environ.get("DIGEST_BENCH_CACHE", Path.home() / ".cache" / "digest-bench"))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def postfix_tools() -> tuple[Path, Path, dict[str, str]]:
    env = dict(os.environ)
    sink, source = shutil.which("smtp-sink"), shutil.which("smtp-source")
    if sink and source:
        return Path(sink), Path(source), env
    unpacked = CACHE / "pf"
    if not (unpacked / "usr/sbin/smtp-sink").exists():
        print(f"smtp-sink not found: fetching the postfix .deb into {CACHE} (not installed)")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "postfix"], cwd=CACHE, check=True)
        deb = sorted(CACHE.glob("postfix_*.deb"))[-1]
        subprocess.run(["dpkg", "-x", str(deb), str(unpacked)], check=True)
    else:
        print(f"using smtp-sink unpacked in {unpacked}")
    env["LD_LIBRARY_PATH"] = str(unpacked / "usr/lib/postfix")
    return unpacked / "usr/sbin/smtp-sink", unpacked / "usr/sbin/smtp-source", env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"smtp-sink did not start on port {port}")


def edition_body() -> tuple[str, str]:
    """A realistic ~20 KB edition: stories with links, a footer with the markers."""
    from digest.render import placeholders as p

    stories_html, stories_text = [], []
    for n in range(1, 31):
        title = f"Local {n} workers win a first contract after a two-year campaign"
        url = f"https://news.example.org/2026/11/story-{n}-workers-win-first-contract"
        blurb = (
            "Members voted by a wide margin to ratify an agreement that raises wages, "
            "protects seniority and sets safe staffing levels across every shift. "
        )
        stories_html.append(
            f'<tr><td style="padding:12px 24px;font-family:Arial,sans-serif">'
            f'<h3 style="margin:0 0 6px;font-size:17px"><a href="{url}" '
            f'style="color:#0b4f9c;text-decoration:none">{title}</a></h3>'
            f'<p style="margin:0;font-size:15px;line-height:1.5;color:#222">{blurb}</p>'
            "</td></tr>"
        )
        stories_text.append(f"{title}\n{url}\n{blurb}\n")
    html = (
        '<!doctype html><html><body style="margin:0;background:#f4f4f4">'
        f'<p>Hello {p.SUBSCRIBER_NAME},</p><table role="presentation" width="100%">'
        + "".join(stories_html)
        + "</table><p>Bench Federation, 815 Example Street NW, Washington, DC 20006</p>"
        f'<p><a href="{p.UNSUBSCRIBE_URL}">Unsubscribe</a> · '
        f'<a href="{p.PREFERENCES_URL}">Preferences</a></p></body></html>'
    )
    text = (
        f"Hello {p.SUBSCRIBER_NAME},\n\n"
        + "\n".join(stories_text)
        + "\nBench Federation, 815 Example Street NW, Washington, DC 20006\n"
        f"Unsubscribe: {p.UNSUBSCRIBE_URL}\nPreferences: {p.PREFERENCES_URL}\n"
    )
    return html, text


def config(workdir: Path, port: int, pool: int, url: str | None = None) -> dict[str, Any]:
    return {
        "organization": {
            "name": "Bench Federation",
            "postal_address": "815 Example Street NW, Washington, DC 20006",
            "site_url": "https://digest.example.org",
            "sender": {"name": "Bench Federation", "email": "news@example.org"},
        },
        "store": {"url": url or f"sqlite:///{workdir / 'bench.db'}"},
        "output_dir": str(workdir / "out"),
        "sources": {
            "blog": {"type": "feed", "path": str(workdir / "feed.xml"), "origin": {"name": "Blog"}}
        },
        "formats": {"list": {"strategy": "list", "title": "List", "template": "weekly_list"}},
        "newsletters": {
            "weekly": {
                "title": "Weekly",
                "schedule": "fri 16:00",
                "formats": ["list"],
                "channels": ["smtp"],
            }
        },
        "channels": {
            "smtp": {
                "type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "pool_size": pool,
            }
        },
    }


def populate(workdir: Path, raw: dict[str, Any], subscribers: int, editions: int = 1) -> None:
    from sqlalchemy import insert

    from digest.store import open_store
    from digest.store.tables import EditionRow, SubscriberRow, SubscriptionRow

    (workdir / "feed.xml").write_text(
        "<rss version='2.0'><channel><title>t</title></channel></rss>"
    )
    store = open_store(raw["store"]["url"])
    now = datetime.now(UTC)
    html, text = edition_body()
    with store.session() as session:
        for start in range(1, subscribers + 1, 20000):
            ids = range(start, min(subscribers, start + 19999) + 1)
            session.execute(
                insert(SubscriberRow),
                [
                    {
                        "id": i,
                        "email": f"member{i}@example.net",
                        "name": f"Member {i}",
                        "status": "active",
                        "attributes": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(SubscriptionRow),
                [
                    {
                        "subscriber_id": i,
                        "list_name": "weekly",
                        "status": "confirmed",
                        "created_at": now,
                        "confirmed_at": now,
                    }
                    for i in ids
                ],
            )
        for number in range(1, editions + 1):
            session.add(
                EditionRow(
                    newsletter="weekly",
                    period_key=f"bench{number}",
                    period_start=now,
                    period_end=now,
                    title="Weekly",
                    subject="Working People Weekly: November 20",
                    status="approved",
                    sections=[],
                    html=html,
                    text=text,
                    web_html="",
                    created_at=now,
                )
            )
    store.dispose()


def child(workdir: Path, edition_id: int = 1) -> None:
    """The measured digest send, in its own process so its peak RSS is its own."""
    from digest.config import validate_config
    from digest.delivery import send_edition
    from digest.models import RunReport
    from digest.store import open_store

    raw = json.loads((workdir / "config.json").read_text())
    settings = validate_config(raw, base_dir=workdir)
    store = open_store(raw["store"]["url"])
    report = RunReport()
    started = time.perf_counter()
    send_edition(settings, store, edition_id, report)
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "elapsed": elapsed,
                "sent": report.sent,
                "failed": report.failed,
                "deferred": report.deferred,
                "recipients": report.recipients,
            }
        )
    )


def run_digest(workdir: Path) -> tuple[dict[str, Any], float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(workdir)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kb <= before:
        print("note: peak RSS not above an earlier child's; figure is a lower bound")
    return json.loads(out.stdout.strip().splitlines()[-1]), peak_kb / 1024


def run_reference(source: Path, env: dict[str, str], port: int, count: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(source), "-d", "-s", "10", "-l", "20000", "-m", str(count), f"127.0.0.1:{port}"],
        check=True,
        env=env,
    )
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--pool", type=int, default=10, help="SMTP connections")
    parser.add_argument("--workers", type=int, help="N senders on PostgreSQL (scale-out)")
    parser.add_argument("--postgres", default=os.environ.get("DIGEST_TEST_POSTGRES", PG))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--edition", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child and not os.environ.get("DIGEST_BENCH_PROFILE"):
        child(args.child, args.edition)
        return
    if args.workers:
        scaleout(args)
        return
    if args.child:
        if os.environ.get("DIGEST_BENCH_PROFILE"):  # where the time goes, on stderr
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(child, args.child)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        else:
            child(args.child)
        return
    sink, source, env = postfix_tools()
    port = free_port()
    sink_proc = subprocess.Popen([str(sink), "-u", "nobody", f"127.0.0.1:{port}", "2000"], env=env)
    try:
        wait_port(port)
        with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
            workdir = Path(tmp)
            raw = config(workdir, port, args.pool)
            (workdir / "config.json").write_text(json.dumps(raw))
            print(f"populating {args.subscribers:,} subscribers …", flush=True)
            populate(workdir, raw, args.subscribers)
            result, peak_mb = run_digest(workdir)
        count = min(args.subscribers, 20_000)
        reference = run_reference(source, env, port, count)
    finally:
        sink_proc.terminate()
        sink_proc.wait()
    digest_rate = result["sent"] / result["elapsed"]
    print(
        f"digest: {result['sent']:,} of {result['recipients']:,} sent in "
        f"{result['elapsed']:.1f}s = {digest_rate:,.0f} msg/s "
        f"(failed {result['failed']}, deferred {result['deferred']}), "
        f"peak RSS {peak_mb:.0f} MB"
    )
    print(f"smtp-source -d -s 10: {count:,} messages at {reference:,.0f} msg/s")
    print(f"send_rate_ratio={digest_rate / reference:.3f}")


def run_workers(workdir: Path, edition: int, workers: int) -> float:
    """N `digest send` processes on one edition; returns the wall time until all end."""
    command = [sys.executable, __file__, "--child", str(workdir), "--edition", str(edition)]
    started = time.perf_counter()
    procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(workers)]
    for proc in procs:
        if proc.wait() != 0:
            raise RuntimeError(f"a worker exited {proc.returncode}")
    return time.perf_counter() - started


def sent_count(url: str, edition: int) -> int:
    from sqlalchemy import func, select

    from digest.store import open_store
    from digest.store.tables import DeliveryRow

    store = open_store(url)
    with store.session() as session:
        count = session.scalar(
            select(func.count()).where(
                DeliveryRow.edition_id == edition, DeliveryRow.status == "sent"
            )
        )
    store.dispose()
    return int(count or 0)


def scaleout(args: argparse.Namespace) -> None:
    import uuid

    from sqlalchemy import create_engine, text

    server = create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = f"digest_bench_{uuid.uuid4().hex[:10]}"
    with server.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    sink, _, env = postfix_tools()
    port = free_port()
    sink_proc = subprocess.Popen([str(sink), "-u", "nobody", f"127.0.0.1:{port}", "2000"], env=env)
    try:
        wait_port(port)
        with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
            workdir = Path(tmp)
            raw = config(workdir, port, args.pool, url)
            (workdir / "config.json").write_text(json.dumps(raw))
            print(f"populating {args.subscribers:,} subscribers on PostgreSQL …", flush=True)
            populate(workdir, raw, args.subscribers, editions=2)
            one_time = run_workers(workdir, 1, 1)
            one = sent_count(url, 1)
            many_time = run_workers(workdir, 2, args.workers)
            many = sent_count(url, 2)
    finally:
        sink_proc.terminate()
        sink_proc.wait()
        with server.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        server.dispose()
    rate_one, rate_many = one / one_time, many / many_time
    print(f"1 worker:  {one:,} sent in {one_time:.1f}s = {rate_one:,.0f} msg/s")
    print(f"{args.workers} workers: {many:,} sent in {many_time:.1f}s = {rate_many:,.0f} msg/s")
    print(f"scaleout_ratio={rate_many / rate_one:.3f}")


if __name__ == "__main__":
    main()
