"""`digest doctor`: is this deployment ready to mail real people, and if not, what to fix.

Each check gives ok, warn or fail, with one sentence on what was found and, unless ok,
what to do. It reads the config, the environment, the DKIM key, the store and the
scheduler's lock and run ledger; it changes nothing and sends nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from sqlalchemy import select

from digest.config import Settings, SmtpChannel
from digest.config_errors import ENV_REF

Status = Literal["ok", "warn", "fail"]
PLACEHOLDER_DOMAINS = ("example.org", "example.com", "example.net", "localhost")
DEMO_KEY_PREFIX = "digest-insecure-demo-key"
MIN_SIGNING_KEY = 32
MIN_DKIM_BITS = 2048


@dataclass(frozen=True)
class Check:
    status: Status
    topic: str
    message: str
    fix: str = ""


def run_checks(
    settings: Settings, config_path: Path, now: datetime, env: Mapping[str, str] | None = None
) -> list[Check]:
    env = os.environ if env is None else env
    checks: list[Check] = []
    for check in (
        _secrets_set,
        _signing_key,
        _site_url,
        _organization,
        _email_channel,
        _staff_password,
    ):
        checks.extend(check(settings, config_path, env))
    checks.extend(_store_and_scheduler(settings, now))
    return checks


def _secrets_set(settings: Settings, config_path: Path, env: Mapping[str, str]) -> Iterator[Check]:
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    missing = sorted({name for name in _env_refs(raw) if name not in env})
    if missing:
        yield Check(
            "fail" if "DIGEST_SIGNING_KEY" in missing else "warn",
            "environment",
            f"config.yaml names variables that are not set: {', '.join(missing)}",
            "set them where the service starts (EnvironmentFile= in the systemd units, "
            "see docs/deploy.md)",
        )
    else:
        yield Check("ok", "environment", "every ${VAR} in config.yaml is set")


def _env_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _env_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _env_refs(value)
    elif isinstance(node, str) and (match := ENV_REF.match(node)):
        yield match.group(1)


def _signing_key(settings: Settings, _: Path, env: Mapping[str, str]) -> Iterator[Check]:
    key = settings.signing_key
    fix = "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
    if key is None:
        yield Check("fail", "signing key", "config.yaml has no signing_key", fix)
        return
    value = env.get(key.var)
    if not value:
        yield Check("fail", "signing key", f"{key.var} is not set: links use a demo key", fix)
    elif value.startswith(DEMO_KEY_PREFIX):
        yield Check("fail", "signing key", f"{key.var} is the demo key", fix)
    elif len(value) < MIN_SIGNING_KEY:
        yield Check("warn", "signing key", f"{key.var} is short ({len(value)} chars)", fix)
    else:
        yield Check("ok", "signing key", f"{key.var} is set ({len(value)} chars)")


def _site_url(settings: Settings, _: Path, env: Mapping[str, str]) -> Iterator[Check]:
    url = settings.organization.site_url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https":
        yield Check(
            "fail",
            "site URL",
            f"organization.site_url is {url}: unsubscribe and confirm links need https",
            "serve digest behind a TLS proxy (docs/deploy.md) and set an https:// URL",
        )
    elif _placeholder(host):
        yield Check(
            "fail",
            "site URL",
            f"organization.site_url is still the example {url}",
            "set it to the address where `digest serve` is reachable",
        )
    elif parts.path not in ("", "/"):
        yield Check(
            "warn",
            "site URL",
            f"organization.site_url has a path ({parts.path}); the app serves at the root",
            "give digest its own (sub)domain, e.g. https://news.your-org.org",
        )
    else:
        yield Check("ok", "site URL", url)


def _organization(settings: Settings, _: Path, env: Mapping[str, str]) -> Iterator[Check]:
    org = settings.organization
    sender_domain = org.sender.email.rsplit("@", 1)[-1]
    if _placeholder(sender_domain):
        yield Check(
            "fail",
            "sender",
            f"organization.sender.email is the example {org.sender.email}",
            "use an address at a domain you control and publish SPF, DKIM and DMARC for it",
        )
    else:
        yield Check("ok", "sender", org.sender.email)
    if re.search(r"\b(Your City|00000|Example Avenue)\b", org.postal_address):
        yield Check(
            "fail",
            "postal address",
            f"organization.postal_address is a placeholder: {org.postal_address}",
            "the law (CAN-SPAM) wants your real postal address in every email",
        )


def _email_channel(settings: Settings, _: Path, env: Mapping[str, str]) -> Iterator[Check]:
    smtp = [(n, c) for n, c in settings.channels.items() if isinstance(c, SmtpChannel)]
    if not smtp:
        yield Check(
            "warn",
            "email",
            "no smtp channel: editions go to a Maildir folder, not to people",
            "add an smtp channel for your relay or ESP (docs/deploy.md lists settings)",
        )
        return
    for name, channel in smtp:
        yield Check("ok", "email", f"channels.{name}: smtp via {channel.host}:{channel.port}")
        yield from _dkim(settings, name, channel, env)


def _dkim(
    settings: Settings, name: str, channel: SmtpChannel, env: Mapping[str, str]
) -> Iterator[Check]:
    from digest.dkim_dns import DkimKeyError, dkim_txt_record, key_bits

    where = f"channels.{name}"
    if not (channel.dkim_selector and channel.dkim_domain and channel.dkim_private_key):
        yield Check(
            "warn",
            "DKIM",
            f"{where}: digest does not sign (no dkim_selector/dkim_domain/dkim_private_key)",
            "fine if your ESP signs for your domain; otherwise set them and publish the key "
            "(`digest dkim-record`)",
        )
        return
    pem = env.get(channel.dkim_private_key.var)
    if not pem:
        yield Check("fail", "DKIM", f"{channel.dkim_private_key.var} is not set", "set it")
        return
    try:
        bits = key_bits(pem)
        record, _ = dkim_txt_record(channel.dkim_selector, channel.dkim_domain, pem)
    except (DkimKeyError, Exception) as exc:  # dkimpy raises several types on bad input
        yield Check(
            "fail",
            "DKIM",
            f"{channel.dkim_private_key.var} is not a usable RSA key: {exc}",
            "make one with: openssl genrsa 2048 (docs/deploy.md)",
        )
        return
    if bits < MIN_DKIM_BITS:
        yield Check("warn", "DKIM", f"the key has {bits} bits", "use a 2048-bit RSA key")
    sender_domain = settings.organization.sender.email.rsplit("@", 1)[-1].lower()
    domain = channel.dkim_domain.lower()
    if sender_domain != domain and not sender_domain.endswith("." + domain):
        yield Check(
            "warn",
            "DKIM",
            f"dkim_domain {domain} does not match the sender's domain {sender_domain}",
            "DMARC passes only when the signing domain aligns with the From: domain",
        )
    yield Check(
        "ok",
        "DKIM",
        f"{bits}-bit key; publish its TXT record at {record} (`digest dkim-record` prints it)",
    )


def _staff_password(settings: Settings, _: Path, env: Mapping[str, str]) -> Iterator[Check]:
    ref = settings.web.staff_password_hash
    if ref is None or not env.get(ref.var):
        yield Check(
            "warn",
            "staff desk",
            "no staff password hash: the desk refuses every sign-in",
            "run `digest web hash-password` and set DIGEST_STAFF_PASSWORD_HASH to what it prints",
        )
    else:
        yield Check("ok", "staff desk", f"{ref.var} is set")


def _store_and_scheduler(settings: Settings, now: datetime) -> Iterator[Check]:
    from digest.store import open_store

    try:
        store = open_store(settings.store.url)
    except Exception as exc:  # any driver error: the message is what the operator needs
        yield Check("fail", "store", f"cannot open {settings.store.url}: {exc}", "check store.url")
        return
    try:
        yield Check("ok", "store", f"{store.engine.dialect.name} store opens and is up to date")
        yield _scheduler_lock(settings)
        yield from _run_ledger(settings, store, now)
    finally:
        store.dispose()


def _scheduler_lock(settings: Settings) -> Check:
    from digest.schedule.lock import AlreadyRunning, acquire

    try:
        lock = acquire(settings.store.url)
    except AlreadyRunning:
        return Check("ok", "scheduler", "a `digest schedule` process holds this store's lock")
    if lock is not None:
        lock.release()
    return Check(
        "fail",
        "scheduler",
        "no `digest schedule` is running on this store: nothing will be sent on time",
        "start it: systemctl enable --now digest-schedule (deploy/systemd/)",
    )


def _run_ledger(settings: Settings, store: Any, now: datetime) -> Iterator[Check]:
    from digest.pipeline import latest_period
    from digest.store.tables import RunRow

    for name, newsletter in settings.newsletters.items():
        try:  # the last send time that has passed: the one that should have run
            period = latest_period(settings, name, now)
        except Exception:  # no run before now: nothing can be missing yet
            continue
        with store.session() as session:
            row = session.scalars(
                select(RunRow).where(RunRow.newsletter == name, RunRow.period_key == period.key)
            ).first()
        due_by = period.end + newsletter.grace
        if row is None and now > due_by:
            yield Check(
                "warn",
                "runs",
                f"{name}: the period ending {period.key} never ran",
                "check the scheduler's log (journalctl -u digest-schedule); "
                f"`digest run {name}` runs it by hand",
            )
        elif row is not None and row.status == "failed":
            yield Check(
                "fail",
                "runs",
                f"{name}: the run for {period.key} failed: {row.error or 'no error recorded'}",
                f"fix the cause, then `digest run {name}` resumes it",
            )
        elif row is not None:
            yield Check("ok", "runs", f"{name}: {period.key} {row.status}")


def _placeholder(host: str) -> bool:
    host = host.lower()
    return any(host == d or host.endswith("." + d) for d in PLACEHOLDER_DOMAINS)
