"""The delivery fault table: missing and duplicate copies per scenario, on loopback.

    .venv/bin/python benchmarks/kill.py --recipients 10000 [--only sigkill,faults]

Each scenario gets a fresh SQLite store with ``--recipients`` subscribers and one
edition, sends it with ``digest send`` in subprocesses against a real SMTP server
(aiosmtpd, the tests' fault-injecting sink) while processes are killed or faults are
injected, then runs ``digest send`` until nothing is pending and counts what every
address received. A copy the server accepted but whose connection dropped before its
reply is necessarily sent again (no client can know it arrived): those are shown apart.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

POOL = 4  # SMTP connections per sender: the in-flight window


@dataclass
class Result:
    name: str
    missing: int
    duplicates: int
    from_drops: int
    failed: int
    note: str


def cli(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "digest.cli", "-c", str(config), *args]


class Scenario:
    def __init__(self, workdir: Path, recipients: int, port: int, **smtp: Any) -> None:
        from tests.conftest import minimal_config
        from tests.email.conftest import add_many, make_edition, write_smtp_config

        from digest.store import open_store

        self.config = workdir / "config.yaml"
        self.raw = write_smtp_config(
            minimal_config(workdir),
            self.config,
            port,
            pool_size=POOL,
            retry_delay=0.2,
            max_retry_delay=1.0,
            **smtp,
        )
        self.store = open_store(self.raw["store"]["url"])
        now = datetime(2026, 11, 20, 21, tzinfo=UTC)
        self.emails = add_many(self.store, now, recipients)
        self.edition = make_edition(self.store, now)

    def statuses(self) -> dict[str, int]:
        from tests.email.conftest import delivery_statuses

        return dict(delivery_statuses(self.store, self.edition))

    def finish(self, limit: int = 20) -> int:
        """``digest send`` until it exits 0 (nothing pending); returns how many runs."""
        for runs in range(1, limit + 1):
            if (
                subprocess.run(cli(self.config, "send", "weekly"), capture_output=True).returncode
                == 0
            ):
                return runs
        raise RuntimeError(f"still pending after {limit} sends: {self.statuses()}")


def interrupt(scenario: Scenario, sink: Any, signum: int, times: int, seed: int) -> int:
    """Send, interrupt with ``signum`` at a random point, restart; ``times`` times."""
    chance = random.Random(seed)
    done = 0
    while done < times:
        proc = subprocess.Popen(
            cli(scenario.config, "send", "weekly"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        target = len(sink.received) + chance.randint(20, 400)
        deadline = time.monotonic() + 60
        while len(sink.received) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signum)
        proc.wait()
        done += 1
    return done


def tally(scenario: Scenario, sink: Any, drops: int, name: str, note: str) -> Result:
    counts = sink.counts()
    missing = sum(1 for e in scenario.emails if counts[e] == 0)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    failed = scenario.statuses().get("failed", 0)
    return Result(name, missing, duplicates, drops, failed, note)


def faulty(sink: Any, seed: int) -> Callable[[], int]:
    """10% of RCPTs answered 421/451, 0.5% of connections dropped after DATA."""
    coin = random.Random(seed)
    drops = [0]
    sink.rcpt_reply = lambda _a: (
        coin.choice(["421 4.7.0 try later", "451 4.3.0 busy"]) if coin.random() < 0.10 else None
    )

    def drop(_address: str) -> bool:
        if coin.random() < 0.005:
            drops[0] += 1
            return True
        return False

    sink.drop_after_data = drop
    return lambda: drops[0]


def run_scenario(name: str, recipients: int, kills: int) -> Result:
    from aiosmtpd.controller import Controller
    from tests.email.conftest import Sink, free_port

    sink = Sink(pipelining=True)
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with tempfile.TemporaryDirectory(prefix="digest-kill-") as tmp:
            return SCENARIOS[name](Path(tmp), sink, controller.port, recipients, kills)
    finally:
        controller.stop()


def sigkill(workdir: Path, sink: Any, port: int, n: int, kills: int) -> Result:
    s = Scenario(workdir, n, port)
    done = interrupt(s, sink, signal.SIGKILL, kills, 20261120)
    runs = s.finish()
    return tally(s, sink, 0, f"{done} × SIGKILL, restart each time", f"{runs} final send(s)")


def sigterm(workdir: Path, sink: Any, port: int, n: int, kills: int) -> Result:
    s = Scenario(workdir, n, port)
    done = interrupt(s, sink, signal.SIGTERM, kills, 7)
    s.finish()
    return tally(s, sink, 0, f"{done} × SIGTERM", "")


def ctrl_c(workdir: Path, sink: Any, port: int, n: int, kills: int) -> Result:
    s = Scenario(workdir, n, port)
    done = interrupt(s, sink, signal.SIGINT, max(1, kills // 4), 11)
    s.finish()
    return tally(s, sink, 0, f"{done} × Ctrl-C (SIGINT)", "")


def faults(workdir: Path, sink: Any, port: int, n: int, kills: int) -> Result:
    s = Scenario(workdir, n, port)
    drops = faulty(sink, 3)
    runs = s.finish()
    return tally(s, sink, drops(), "10% RCPT 421/451, 0.5% dropped after DATA", f"{runs} send(s)")


def faults_and_kills(workdir: Path, sink: Any, port: int, n: int, kills: int) -> Result:
    s = Scenario(workdir, n, port)
    drops = faulty(sink, 5)
    done = interrupt(s, sink, signal.SIGKILL, kills, 99)
    s.finish()
    return tally(s, sink, drops(), f"the same faults plus {done} × SIGKILL", "")


def relay_down(workdir: Path, sink: Any, port: int, n: int, kills: int) -> Result:
    from tests.email.conftest import free_port, write_smtp_config

    s = Scenario(workdir, n, free_port())  # nothing listens: connection refused
    started = time.monotonic()
    tries = 0
    while time.monotonic() - started < 30:  # far longer than the backoff (max 1 s) here
        subprocess.run(cli(s.config, "send", "weekly", "--linger", "3"), capture_output=True)
        tries += 1
    failed_while_down = s.statuses().get("failed", 0)
    write_smtp_config(s.raw, s.config, port, pool_size=POOL, retry_delay=0.2)
    s.finish()
    result = tally(s, sink, 0, "relay down 30 s, backoff capped at 1 s", "")
    result.failed = failed_while_down
    result.note = f"{tries} sends while down; failed while down: {failed_while_down}"
    return result


def outbox_full(workdir: Path, sink: Any, port: int, n: int, kills: int) -> Result:
    import yaml

    s = Scenario(workdir, n, port)
    outbox = workdir / "outbox"
    (outbox).mkdir()
    (outbox / "tmp").symlink_to("/dev/full")
    raw = dict(s.raw)
    raw["channels"] = {"email": {"type": "maildir", "path": str(outbox)}}
    raw["newsletters"]["weekly"]["channels"] = ["email"]
    s.config.write_text(yaml.safe_dump(raw))
    started = time.monotonic()
    full = subprocess.run(cli(s.config, "send", "weekly", "--linger", "0"), capture_output=True)
    seconds = time.monotonic() - started
    failed = s.statuses().get("failed", 0)
    (outbox / "tmp").unlink()
    s.finish()
    delivered = len(list((outbox / "new").iterdir()))
    return Result(
        "Maildir outbox unwritable, database writable",
        n - delivered,
        max(0, delivered - n),
        0,
        failed,
        f"exit {full.returncode} after {seconds:.0f}s; {delivered} files once writable",
    )


SCENARIOS: dict[str, Callable[[Path, Any, int, int, int], Result]] = {
    "sigkill": sigkill,
    "sigterm": sigterm,
    "ctrl_c": ctrl_c,
    "faults": faults,
    "faults_kills": faults_and_kills,
    "relay_down": relay_down,
    "outbox_full": outbox_full,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    args = parser.parse_args()
    print(f"| scenario ({args.recipients:,} recipients) | missing | duplicates | failed | notes |")
    print("|---|---|---|---|---|")
    for name in args.only.split(","):
        started = time.monotonic()
        r = run_scenario(name, args.recipients, args.kills)
        dups = f"{r.duplicates}" + (
            f" ({r.from_drops} from drops after DATA)" if r.from_drops else ""
        )
        note = f"{r.note}; {time.monotonic() - started:.0f}s".strip("; ")
        print(f"| {r.name} | {r.missing} | {dups} | {r.failed} | {note} |", flush=True)


if __name__ == "__main__":
    main()
