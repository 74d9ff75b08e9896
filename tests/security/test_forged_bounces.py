"""Attack: hand-made DSN bounces and ARF complaints dropped in the bounce mailbox, to
suppress chosen subscribers (a complaint ends all of a person's subscriptions).

Only reports proving a delivery digest made are acted on (a signed VERP token, or the
returned copy's recorded Message-ID with its signed List-Unsubscribe token); the rest
are listed as unchanged. Run through the CLI: ``digest send`` then ``digest bounces``.
"""

from __future__ import annotations

import mailbox
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from digest.cli import app
from digest.store import open_store
from digest.subscribers import is_suppressed

from .conftest import make_edition

PEOPLE = ("ana@example.net", "bo@example.net", "cy@example.net")


def dsn(final: str, returned: str = "") -> str:
    return (
        "From: MAILER-DAEMON@mx.example.net\nTo: bounces@example.org\nSubject: Undelivered\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="B"\n\n--B\nContent-Type: message/delivery-status\n\n'
        f"Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; {final}\n"
        "Action: failed\nStatus: 5.1.1\n"
        + (f"--B\nContent-Type: text/rfc822-headers\n\n{returned}\n" if returned else "")
        + "--B--\n"
    )


def arf(who: str, returned: str = "") -> str:
    return (
        "From: fbl@isp.example\nTo: abuse@example.org\nSubject: complaint\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\n\n'
        "--F\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n"
        f"Original-Rcpt-To: {who}\n"
        + (f"--F\nContent-Type: text/rfc822-headers\n\n{returned}\n" if returned else "")
        + "--F--\n"
    )


def run(config: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["-c", str(config), *args])


def test_only_reports_proving_a_delivery_change_anything(
    raw_config: dict[str, Any], tmp_path: Path, now: datetime, monkeypatch: Any
) -> None:
    monkeypatch.setenv("TEST_SIGNING_KEY", "bounce-test-key-0123456789")
    raw_config["signing_key"] = "${TEST_SIGNING_KEY}"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config))
    for who in PEOPLE:
        assert run(config, "subscribers", "add", who).exit_code == 0
    store = open_store(raw_config["store"]["url"])
    make_edition(store, now)
    assert run(config, "send", "weekly").exit_code == 0
    copies = {
        str(m["To"]).split("<")[-1].rstrip(">"): m
        for m in mailbox.Maildir(tmp_path / "out" / "outbox", create=False)
    }
    headers = {who: "".join(f"{k}: {v}\n" for k, v in copies[who].items()) for who in PEOPLE}
    # cy, a subscriber, turns their own copy's headers into ana's: another Message-ID
    cy_id, ana_id = (str(copies[w]["Message-ID"]) for w in ("cy@example.net", PEOPLE[0]))
    guessed = headers["cy@example.net"].replace(cy_id, ana_id)

    attacks = mailbox.Maildir(tmp_path / "attacks", create=True)
    attacks.add(dsn("ana@example.net"))  # no proof at all
    attacks.add(arf("bo@example.net"))  # a complaint with no proof
    attacks.add(dsn("ana@example.net", guessed))  # guessed Message-ID, cy's own link
    attacks.add(arf("ana@example.net", guessed))
    attacks.add(dsn("ana@example.net", headers["ana@example.net"].replace("/u/", "/u/x")))
    result = run(config, "bounces", "--maildir", str(tmp_path / "attacks"))
    assert result.exit_code == 0, result.output
    assert "5 messages: 0 bounced, 0 complaints, 5 left unchanged" in result.output
    assert result.output.count("names no delivery digest made") == 5
    with store.session() as session:
        assert not any(is_suppressed(session, who) for who in PEOPLE)
    listed = run(config, "subscribers", "list")
    assert all(who in listed.output for who in PEOPLE)

    # the legitimate path: real reports returning the copies digest sent
    real = mailbox.Maildir(tmp_path / "real", create=True)
    real.add(dsn("ana.forwarded@elsewhere.example", headers["ana@example.net"]))
    real.add(arf("someone@isp.example", headers["bo@example.net"]))
    result = run(config, "bounces", "--maildir", str(tmp_path / "real"))
    assert "2 messages: 1 bounced, 1 complaints" in result.output, result.output
    with store.session() as session:
        assert is_suppressed(session, "ana@example.net")
        assert is_suppressed(session, "bo@example.net")
        assert not is_suppressed(session, "cy@example.net")
        assert not is_suppressed(session, "someone@isp.example")
