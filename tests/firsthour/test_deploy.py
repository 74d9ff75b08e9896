"""docs/deploy.md's files and commands: systemd units, proxy examples, doctor, dkim-record."""

from __future__ import annotations

import configparser
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from digest.cli import app
from digest.config import load_config
from digest.schedule.lock import acquire

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
DOCS = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
NOW = datetime(2031, 3, 5, 15, 0, tzinfo=UTC)  # a Wednesday


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string((UNITS / name).read_text(encoding="utf-8"))
    return parser


@pytest.mark.parametrize(
    ("name", "command"),
    [("digest-serve.service", "serve"), ("digest-schedule.service", "schedule")],
)
def test_systemd_unit_parses_and_starts_a_real_command(name: str, command: str) -> None:
    parsed = unit(name)
    assert parsed.sections() == ["Unit", "Service", "Install"]
    service = parsed["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == "/opt/digest/.venv/bin/digest" and argv[1] == command
    # the command and its options exist: the same arguments with --help succeed
    result = CliRunner().invoke(app, [*argv[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert service["User"] == "digest" and service["Restart"] in ("always", "on-failure")
    assert service["EnvironmentFile"] == "/etc/digest/digest.env"
    assert service["Environment"] == "DIGEST_CONFIG=/srv/digest/config.yaml"
    assert service["ReadWritePaths"] == service["WorkingDirectory"] == "/srv/digest"
    assert parsed["Install"]["WantedBy"] == "multi-user.target"
    assert name in DOCS


def test_env_example_names_every_secret_the_starter_uses() -> None:
    example = (UNITS / "digest.env.example").read_text(encoding="utf-8")
    starter = (ROOT / "src" / "digest" / "starter" / "config.yaml").read_text(encoding="utf-8")
    for var in re.findall(r"\$\{([A-Z_]+)\}", starter):
        assert re.search(rf"^#? ?{var}=", example, re.M), var


def test_proxies_forward_to_the_port_digest_serves_on() -> None:
    web = yaml.safe_load((ROOT / "src/digest/starter/config.yaml").read_text())["web"]
    target = f"{web['host']}:{web['port']}"
    assert f"reverse_proxy {target}" in (ROOT / "deploy/proxy/Caddyfile").read_text()
    nginx = (ROOT / "deploy/proxy/nginx.conf").read_text()
    assert nginx.count(f"proxy_pass http://{target};") == 3 and "listen 443 ssl" in nginx
    for esp in ("Amazon SES", "Postmark", "Mailgun", "SendGrid", "SPF", "DKIM", "DMARC"):
        assert esp in DOCS


def make_key() -> tuple[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key


def test_dkim_record_publishes_the_key_that_verifies_our_signature(tmp_path: Path) -> None:
    pem, _key = make_key()
    key_file = tmp_path / "dkim.pem"
    key_file.write_text(pem, encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["dkim-record", "--key", str(key_file), "--selector", "news", "--domain", "org.test"],
    )
    assert result.exit_code == 0, result.output
    assert "Name:  news._domainkey.org.test" in result.output
    value = re.search(r"^Value: (.+)$", result.output, re.M)
    assert value is not None
    zone = re.search(r"^news\._domainkey\.org\.test\. 3600 IN TXT (.+)$", result.output, re.M)
    assert zone is not None
    parts = re.findall(r'"([^"]+)"', zone.group(1))
    assert all(len(p) <= 255 for p in parts) and "".join(parts) == value.group(1)
    message = b"From: news@org.test\r\nTo: a@b.test\r\nSubject: hi\r\n\r\nHello.\r\n"
    signature = dkim.sign(message, b"news", b"org.test", pem.encode())
    record = value.group(1).encode()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"news._domainkey.org.test." else b""

    assert dkim.verify(signature + message, dnsfunc=dns)


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A deployment with every check passing but the scheduler."""
    pem, _ = make_key()
    feed = tmp_path / "feed.xml"
    feed.write_text("<rss version='2.0'><channel><title>t</title></channel></rss>", "utf-8")
    config = {
        "organization": {
            "name": "River Valley Labor Council",
            "postal_address": "210 Mill Street, Riverton, OR 97401",
            "site_url": "https://news.rivervalley-labor.test",
            "sender": {"name": "River Valley", "email": "news@rivervalley-labor.test"},
        },
        "signing_key": "${DIGEST_SIGNING_KEY}",
        "store": {"url": f"sqlite:///{tmp_path / 'digest.db'}"},
        "output_dir": str(tmp_path / "out"),
        "sources": {"blog": {"type": "feed", "path": str(feed), "origin": {"name": "Blog"}}},
        "formats": {"list": {"strategy": "list", "title": "News", "template": "weekly_list"}},
        "newsletters": {
            "weekly": {
                "title": "Weekly",
                "schedule": "fri 16:00",
                "timezone": "America/Los_Angeles",
                "formats": ["list"],
            }
        },
        "channels": {
            "email": {
                "type": "smtp",
                "host": "email-smtp.us-west-2.amazonaws.com",
                "port": 587,
                "security": "starttls",
                "username": "${SMTP_USERNAME}",
                "password": "${SMTP_PASSWORD}",
                "dkim_selector": "digest",
                "dkim_domain": "rivervalley-labor.test",
                "dkim_private_key": "${DKIM_PRIVATE_KEY}",
            }
        },
        "web": {"staff_password_hash": "${DIGEST_STAFF_PASSWORD_HASH}"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    for var, value in {
        "DIGEST_SIGNING_KEY": "k" * 48,
        "SMTP_USERNAME": "AKIAEXAMPLE",
        "SMTP_PASSWORD": "secret",
        "DKIM_PRIVATE_KEY": pem.replace("\n", "\\n"),  # one line, as in digest.env
        "DIGEST_STAFF_PASSWORD_HASH": "scrypt:16384:8:1:c2FsdA:aGFzaA",
    }.items():
        monkeypatch.setenv(var, value)
    yield path


def add_run(url: str, status: str, error: str | None = None) -> None:
    """The run ledger's row for the weekly period before NOW."""
    from digest.store import open_store
    from digest.store.tables import RunRow

    store = open_store(url)
    with store.session() as session:
        session.add(
            RunRow(
                newsletter="weekly", period_key="2031-02-28T16:00-08:00", status=status, error=error
            )
        )
    store.dispose()


def doctor(config: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config", str(config), "doctor", "--at", NOW.isoformat()])
    return result.exit_code, result.output


def test_doctor_passes_a_ready_deployment_with_its_scheduler_running(deployment: Path) -> None:
    settings = load_config(deployment)
    add_run(settings.store.url, "succeeded")
    lock = acquire(settings.store.url)  # as a running `digest schedule` holds it
    assert lock is not None
    try:
        code, out = doctor(deployment)
    finally:
        lock.release()
    assert code == 0, out
    assert "FAIL" not in out and "warn" not in out, out
    assert "2048-bit key; publish its TXT record at digest._domainkey.rivervalley-labor.test" in out
    assert "a `digest schedule` process holds this store's lock" in out


def test_doctor_says_what_to_fix(deployment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SIGNING_KEY", "digest-insecure-demo-key:https://x")
    monkeypatch.setenv("DKIM_PRIVATE_KEY", "not a key")
    raw = yaml.safe_load(deployment.read_text(encoding="utf-8"))
    raw["organization"]["site_url"] = "http://news.example.org"
    deployment.write_text(yaml.safe_dump(raw), encoding="utf-8")
    code, out = doctor(deployment)
    assert code == 1
    assert "FAIL signing key: DIGEST_SIGNING_KEY is the demo key" in out
    assert "FAIL site URL: organization.site_url is http://news.example.org" in out
    assert "FAIL DKIM: DKIM_PRIVATE_KEY is not a usable RSA key" in out
    assert "FAIL scheduler: no `digest schedule` is running" in out
    assert "systemctl enable --now digest-schedule" in out
    assert out.count("fix: ") >= 4


def test_doctor_flags_a_missed_and_a_failed_run(deployment: Path) -> None:
    code, out = doctor(deployment)
    assert "weekly: the period ending 2031-02-28T16:00-08:00 never ran" in out
    add_run(load_config(deployment).store.url, "failed", "SMTP 535 authentication failed")
    code, out = doctor(deployment)
    assert code == 1
    assert "weekly: the run for 2031-02-28T16:00-08:00 failed: SMTP 535" in out
