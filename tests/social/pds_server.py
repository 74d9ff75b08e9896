"""A real Bluesky PDS (with its PLC) on loopback, for the integration tests.

node_modules live outside the repository (``~/.cache/digest-pds`` or
``$DIGEST_PDS_CACHE``) and are reused; the first ``npm install`` takes minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from atproto import Client, models

HERE = Path(__file__).parent / "pds"
READY_TIMEOUT = 120
HANDLE = "fed.test"
PASSWORD = "correct-horse-battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cache_dir() -> Path:
    return Path(os.environ.get("DIGEST_PDS_CACHE", Path.home() / ".cache" / "digest-pds"))


def _install(cache: Path) -> str | None:
    """Copy the launcher into the cache and npm install once; a reason on failure."""
    cache.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "start-net.js"):
        if not (cache / name).exists() or (cache / name).read_bytes() != (HERE / name).read_bytes():
            shutil.copy(HERE / name, cache / name)
            shutil.rmtree(cache / "node_modules", ignore_errors=True)
    if (cache / "node_modules" / "@atproto" / "dev-env").is_dir():
        return None
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund"],
        cwd=cache,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        return f"npm install failed in {cache}: {done.stderr[-500:]}"
    return None


def start_pds() -> Iterator[str]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to run a local Bluesky PDS")
    cache = _cache_dir()
    problem = _install(cache)
    if problem:
        pytest.skip(problem)
    pds_port, plc_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "LOG_ENABLED": "false",
        "PDS_PORT": str(pds_port),
        "PLC_PORT": str(plc_port),
    }
    process = subprocess.Popen(
        ["node", "start-net.js", "noappview"],
        cwd=cache,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_ready(process)
        yield f"http://127.0.0.1:{pds_port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_ready(process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    assert process.stdout is not None
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                pytest.skip("the PDS did not start: " + "".join(seen)[-500:])
            continue
        seen.append(line)
        if line.startswith("{") and json.loads(line).get("ready"):
            return
    process.kill()
    pytest.skip("the PDS did not report ready in time")


def records(pds_url: str, did: str) -> list[models.ComAtprotoRepoListRecords.Record]:
    client = Client(base_url=pds_url)
    found = client.com.atproto.repo.list_records(
        models.ComAtprotoRepoListRecords.Params(
            repo=did, collection="app.bsky.feed.post", limit=100
        )
    )
    return list(found.records)


def thread_of(
    pds_url: str, did: str, first_text: str
) -> list[models.ComAtprotoRepoListRecords.Record]:
    """The thread whose root starts with ``first_text``, in order; fails on a forked part."""
    posts = {r.uri: r for r in records(pds_url, did)}
    root = next(
        r for r in posts.values() if r.value.text.startswith(first_text) and r.value.reply is None
    )
    chain = [root]
    while True:
        nxt = [
            r for r in posts.values() if r.value.reply and r.value.reply.parent.uri == chain[-1].uri
        ]
        if not nxt:
            return chain
        assert len(nxt) == 1, "a part was posted twice"
        chain.append(nxt[0])
