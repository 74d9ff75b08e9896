"""Deployment commands: `digest doctor` and `digest dkim-record` (see docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from digest.cli.app import app, console, settings_from, user_errors
from digest.cli.core import parse_at
from digest.errors import DigestError

if TYPE_CHECKING:
    from digest.config import SmtpChannel

MARKS = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}


@app.command()
@user_errors
def doctor(
    ctx: typer.Context,
    at: str | None = typer.Option(None, "--at", help="Check as if at this time (ISO 8601)."),
) -> None:
    """Check a deployment (config, keys, DKIM key, site URL, scheduler) and say what to fix."""
    from digest.doctor import run_checks

    settings = settings_from(ctx)
    checks = run_checks(settings, ctx.obj["config_path"], parse_at(at))
    for check in checks:
        console.print(f"{MARKS[check.status]} {check.topic}: ", end="")
        console.print(check.message, markup=False, highlight=False)
        if check.fix:
            console.print(f"       fix: {check.fix}", markup=False, highlight=False)
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    console.print(f"{failed} to fix, {warned} to look at, {len(checks) - failed - warned} ok")
    if failed:
        raise typer.Exit(1)


@app.command("dkim-record")
@user_errors
def dkim_record(
    ctx: typer.Context,
    key_file: Path | None = typer.Option(
        None, "--key", help="A PEM private key file (default: the smtp channel's key)."
    ),
    selector: str | None = typer.Option(None, "--selector", help="Default: dkim_selector."),
    domain: str | None = typer.Option(None, "--domain", help="Default: dkim_domain."),
) -> None:
    """Print the DNS TXT record that publishes the DKIM key digest signs with."""
    from digest.dkim_dns import DkimKeyError, dkim_txt_record, split_txt

    channel = _signing_channel(ctx) if key_file is None or not (selector and domain) else None
    selector = selector or (channel.dkim_selector if channel else None)
    domain = domain or (channel.dkim_domain if channel else None)
    if not selector or not domain:
        raise DigestError("give --selector and --domain, or set dkim_selector and dkim_domain")
    if key_file is not None:
        pem = key_file.read_text(encoding="utf-8")
    elif channel is not None and channel.dkim_private_key is not None:
        pem = channel.dkim_private_key.resolve()
    else:
        raise DigestError("give --key FILE, or set dkim_private_key on the smtp channel")
    try:
        name, value = dkim_txt_record(selector, domain, pem)
    except DkimKeyError as exc:
        raise DigestError(f"DKIM key: {exc}") from None
    console.print(f"Name:  {name}", markup=False, highlight=False)
    console.print("Type:  TXT", markup=False)
    console.print(f"Value: {value}", markup=False, highlight=False, soft_wrap=True)
    quoted = " ".join(f'"{part}"' for part in split_txt(value))
    console.print("\nAs a zone-file line:", markup=False)
    console.print(f"{name}. 3600 IN TXT {quoted}", markup=False, highlight=False, soft_wrap=True)


def _signing_channel(ctx: typer.Context) -> SmtpChannel | None:
    from digest.config import SmtpChannel

    settings = settings_from(ctx)
    for channel in settings.channels.values():
        if isinstance(channel, SmtpChannel) and channel.dkim_selector:
            return channel
    return None
