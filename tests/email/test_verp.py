"""VERP: a signed bounce address per (edition, subscriber), and bounces attributed by it."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from digest.cli import app
from digest.config import Settings
from digest.delivery import send_edition
from digest.delivery.tokens import find_verp_token
from digest.models import RunReport
from digest.store import Store, open_store
from digest.store.tables import SubscriberRow, SuppressionRow
from digest.subscribers import is_suppressed

from .conftest import Sink, add_people, make_edition

VERP = re.compile(r"^bounces\+(\d+\.\d+\.[0-9a-f]{10})@example\.org$")

DSN = """From: MAILER-DAEMON@mx.elsewhere.example
{envelope}Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.elsewhere.example

{original}Final-Recipient: rfc822; {final}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} mailbox unavailable
--B
Content-Type: text/rfc822-headers

From: Test Federation <news@example.org>
Subject: Worker Wins: November 20
--B--
"""


def dsn(
    final: str,
    *,
    envelope: str = "",
    original: str = "",
    action: str = "failed",
    status: str = "5.1.1",
) -> str:
    return DSN.format(
        envelope=envelope, original=original, final=final, action=action, status=status
    )


def token_of(address: str) -> str:
    match = VERP.match(address)
    assert match, address
    return match.group(1)


def verp_config(raw_config: dict[str, Any], tmp_path: Path, sink: Sink) -> Path:
    """config.yaml sending through the sink with a VERP return path, signed with the key
    in $TEST_SIGNING_KEY."""
    raw_config["signing_key"] = "${TEST_SIGNING_KEY}"
    raw_config["channels"]["smtp"] = {
        "type": "smtp",
        "host": "127.0.0.1",
        "port": sink.port,  # type: ignore[attr-defined]
        "security": "none",
        "return_path": "bounces+{token}@example.org",
    }
    raw_config["newsletters"]["weekly"]["channels"] = ["smtp"]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config))
    return config


def ids_by_email(store: Store) -> dict[str, int]:
    with store.session() as session:
        return {row.email: row.id for row in session.scalars(select(SubscriberRow))}


def test_each_copy_has_its_own_signed_return_path(
    smtp_settings: Callable[..., Settings], sink: Sink, store: Store, now: datetime
) -> None:
    settings = smtp_settings(return_path="bounces+{token}@example.org")
    people = add_people(store, now, 6)
    edition = make_edition(store, now)
    send_edition(settings, store, edition, RunReport(), now=now)
    senders = sink.mail_from()
    assert set(senders) == set(people)
    assert len(set(senders.values())) == len(people)  # one address per subscriber
    ids = ids_by_email(store)
    secret = settings.signing_secret()
    for rcpt, mail_from in senders.items():
        match = VERP.match(mail_from)
        assert match, mail_from
        assert find_verp_token(secret, mail_from) == (edition, ids[rcpt])
    forged = senders[people[0]].replace(".", ".9", 1)  # another subscriber, same signature
    assert find_verp_token(secret, forged) is None
    assert find_verp_token("another-secret", senders[people[0]]) is None


def test_bounces_are_attributed_by_the_verp_token_not_the_final_recipient(
    raw_config: dict[str, Any],
    tmp_path: Path,
    now: datetime,
    sink: Sink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_SIGNING_KEY", "verp-test-key-0123456789")
    config = verp_config(raw_config, tmp_path, sink)
    store = open_store(raw_config["store"]["url"])
    ana, bo, cy, dan, eve = add_people(store, now, 5)
    make_edition(store, now)
    sent = CliRunner().invoke(app, ["-c", str(config), "send", "weekly"])
    assert sent.exit_code == 0, sent.output
    verp = sink.mail_from()
    assert all(VERP.match(verp[a]) for a in (ana, bo, cy, dan, eve))

    bounces = tmp_path / "bounces"
    inbox = mailbox.Maildir(bounces, create=True)
    # ana forwards to a mailbox that no longer exists; the DSN names only that mailbox
    inbox.add(dsn("ana.forwarded@elsewhere.example", envelope=f"To: {verp[ana]}\n"))
    # cy's bounce: the To was rewritten, the envelope recipient survives in Delivered-To
    inbox.add(
        dsn(
            "c.y@new-isp.example",
            envelope=f"Delivered-To: {verp[cy]}\nTo: bounces@example.org\n",
        )
    )
    # eve's report names the return path in Original-Recipient only
    inbox.add(dsn("eve@relay.example", original=f"Original-Recipient: rfc822; {verp[eve]}\n"))
    # dan is only delayed: nothing changes
    inbox.add(
        dsn(
            "dan@elsewhere.example", envelope=f"To: {verp[dan]}\n", action="delayed", status="4.4.1"
        )
    )
    # a forged token (bo's delivery with ana's signature): the bounce changes nothing
    bo_delivery = token_of(verp[bo]).rsplit(".", 1)[0]
    ana_signature = token_of(verp[ana]).rsplit(".", 1)[1]
    forged = f"bounces+{bo_delivery}.{ana_signature}@example.org"
    inbox.add(dsn(bo, envelope=f"To: {forged}\n"))

    result = CliRunner().invoke(app, ["-c", str(config), "bounces", "--maildir", str(bounces)])
    assert result.exit_code == 0, result.output
    assert "5 messages: 3 bounced" in result.output
    for who in (ana, cy, eve):
        assert f"bounced (suppressed): {who}" in result.output
    assert "signature invalid" in result.output
    with store.session() as session:
        assert is_suppressed(session, ana) and is_suppressed(session, cy)
        assert is_suppressed(session, eve)
        assert not is_suppressed(session, bo) and not is_suppressed(session, dan)
        assert not is_suppressed(session, "ana.forwarded@elsewhere.example")
        assert not is_suppressed(session, "c.y@new-isp.example")
        statuses = {r.email: r.status for r in session.scalars(select(SubscriberRow))}
        assert [statuses[a] for a in (ana, bo, cy, dan, eve)] == [
            "bounced",
            "active",
            "bounced",
            "active",
            "bounced",
        ]
        ana_row = session.get(SuppressionRow, ana)
        assert ana_row is not None
        assert "Final-Recipient ana.forwarded@elsewhere.example" in ana_row.detail


def test_a_bounce_for_a_copy_sent_before_a_key_rotation_still_counts(
    raw_config: dict[str, Any],
    tmp_path: Path,
    now: datetime,
    sink: Sink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old_key, new_key = "verp-old-key-0123456789abcdef", "verp-new-key-0123456789abcdef"
    monkeypatch.setenv("TEST_SIGNING_KEY", old_key)
    config = verp_config(raw_config, tmp_path, sink)
    store = open_store(raw_config["store"]["url"])
    [ana] = add_people(store, now, 1)
    make_edition(store, now)
    sent = CliRunner().invoke(app, ["-c", str(config), "send", "weekly"])
    assert sent.exit_code == 0, sent.output
    verp = sink.mail_from()[ana]
    # the key is rotated: the old one is only honoured now, never used to sign
    monkeypatch.setenv("TEST_SIGNING_KEY", new_key)
    monkeypatch.setenv("TEST_OLD_KEYS", old_key)
    raw_config["signing_keys_old"] = "${TEST_OLD_KEYS}"
    config.write_text(yaml.safe_dump(raw_config))
    bounces = tmp_path / "bounces"
    mailbox.Maildir(bounces, create=True).add(dsn("ana@gone.example", envelope=f"To: {verp}\n"))
    result = CliRunner().invoke(app, ["-c", str(config), "bounces", "--maildir", str(bounces)])
    assert result.exit_code == 0, result.output
    assert f"bounced (suppressed): {ana}" in result.output
    with store.session() as session:
        assert is_suppressed(session, ana)
