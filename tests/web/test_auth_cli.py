"""Password hashes, the rate limiter, and the `digest web hash-password` / `serve` commands."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from tests.conftest import minimal_config
from typer.testing import CliRunner

from digest.cli import app
from digest.web.auth import PasswordHashError, hash_password, verify_password
from digest.web.ratelimit import RateLimiter


def test_hash_round_trip_and_salted() -> None:
    first = hash_password("a long staff password", n=2**10)
    second = hash_password("a long staff password", n=2**10)
    assert first != second and first.startswith("scrypt:1024:8:1:")
    assert verify_password("a long staff password", first)
    assert not verify_password("a long staff passwore", first)


@pytest.mark.parametrize("bad", ["", "md5:abc", "scrypt:x:8:1:aa:bb", "scrypt:1024:8:1:aa"])
def test_malformed_hash_is_an_error_naming_the_format(bad: str) -> None:
    with pytest.raises(PasswordHashError, match="scrypt"):
        verify_password("pw", bad)


def test_rate_limiter_refills_over_time() -> None:
    t = [0.0]
    limiter = RateLimiter(per_minute=6, burst=2, clock=lambda: t[0])
    assert [limiter.allow("a"), limiter.allow("a"), limiter.allow("a")] == [True, True, False]
    assert limiter.allow("b")  # buckets are per client
    t[0] = 10.0  # 6 per minute: one token every 10 s
    assert limiter.allow("a") and not limiter.allow("a")


def test_rate_limiter_memory_is_bounded() -> None:
    t = [0.0]
    limiter = RateLimiter(per_minute=60, burst=1, clock=lambda: t[0], max_keys=3)
    for n in range(10):
        t[0] += 0.1
        limiter.allow(f"ip{n}")
    assert len(limiter._buckets) <= 3


def test_hash_password_command_prints_a_verifiable_hash() -> None:
    result = CliRunner().invoke(
        app, ["web", "hash-password", "--stdin"], input="a long staff password\n"
    )
    assert result.exit_code == 0, result.output
    encoded = result.stdout.strip()
    assert verify_password("a long staff password", encoded)


def test_hash_password_command_refuses_short_passwords() -> None:
    result = CliRunner().invoke(app, ["web", "hash-password", "--stdin"], input="short\n")
    assert result.exit_code == 1 and "at least 10" in result.output


def test_serve_has_host_and_port_options() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.stdout and "--port" in result.stdout


def test_serve_runs_the_app_from_a_config_file(tmp_path: Path) -> None:
    """`digest serve` in its own process: reads config.yaml, migrates the store, serves."""
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(minimal_config(tmp_path)), encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "digest.cli", "--config", str(config), "serve"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        response = _wait_for(f"http://127.0.0.1:{port}/subscribe", process)
        assert response.status_code == 200 and 'id="email"' in response.text
        desk = httpx.get(f"http://127.0.0.1:{port}/desk/login")
        assert "Staff sign-in is switched off" in desk.text
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert "staff desk will refuse sign-ins" in output


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.communicate()[0].decode())
        try:
            return httpx.get(url)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within 20 s")
