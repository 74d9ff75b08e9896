"""CLI: subscribers import/export, send, bounces from a Maildir."""

from __future__ import annotations

import csv
import io
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

DSN = """From: MAILER-DAEMON@mx.example.net
To: bounces@example.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {gone}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

Final-Recipient: rfc822; {slow}
Action: delayed
Status: 4.4.1
--B
Content-Type: text/rfc822-headers

{returned}
--B--
"""

ARF = """From: fbl@isp.example
To: abuse@example.org
Subject: complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

A user complained.
--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: isp-fbl/1.0
Version: 1
Original-Rcpt-To: {who}
--F
Content-Type: text/rfc822-headers

{returned}
--F--
"""


def run(config: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["-c", str(config), *args])


def write_config(raw: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_import_reports_bad_rows_by_line_and_export_neutralizes_formulas(
    raw_config: dict[str, Any], tmp_path: Path
) -> None:
    config = write_config(raw_config, tmp_path)
    (tmp_path / "list.csv").write_text(
        "E-mail,Full Name,Local\n"
        "ana@Example.NET,Ana,Local 12\n"
        "not-an-address,Bad,Local 1\n"
        "ANA@example.net,Ana again,Local 12\n"
        '=cmd@example.net,=HYPERLINK("http://evil"),Local 3\n'
        "bo@example.net,Bo,\n",
        encoding="utf-8",
    )
    result = run(
        config,
        "subscribers",
        "import",
        str(tmp_path / "list.csv"),
        "--email",
        "E-mail",
        "--name",
        "Full Name",
        "--attr",
        "Local=local",
    )
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output and "1 duplicate" in result.output
    assert "line 3:" in result.output and "1 invalid" in result.output
    listed = run(config, "subscribers", "list")
    assert "ana@example.net" in listed.output and "bo@example.net" in listed.output
    out = tmp_path / "export.csv"
    assert run(config, "subscribers", "export", "-o", str(out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    by_email = {r["email"].lstrip("'"): r for r in rows}
    assert by_email["=cmd@example.net"]["email"].startswith("'=")
    assert by_email["=cmd@example.net"]["name"].startswith("'=HYPERLINK")
    assert '"local": "Local 12"' in by_email["ana@example.net"]["attributes"]


def test_send_then_bounces_suppress_and_complaints_unsubscribe(
    raw_config: dict[str, Any], tmp_path: Path, now: datetime
) -> None:
    config = write_config(raw_config, tmp_path)
    for who in ("ana", "bo", "cy"):
        assert run(config, "subscribers", "add", f"{who}@example.net", "--name", who).exit_code == 0
    store = open_store(raw_config["store"]["url"])
    make_edition(store, now)
    test = run(config, "send", "weekly", "--test", "staff@example.org")
    assert test.exit_code == 0, test.output
    result = run(config, "send", "weekly")
    assert result.exit_code == 0, result.output
    assert "3 recipients, 3 sent" in result.output
    box = mailbox.Maildir(tmp_path / "out" / "outbox", create=False)
    assert len(box) == 4  # three subscribers and the test copy
    bounces = tmp_path / "bounces"
    inbox = mailbox.Maildir(bounces, create=True)
    # reports return the copy's headers (Message-ID and signed List-Unsubscribe): the
    # proof that digest made the delivery (tests/security/test_forged_bounces.py)
    copies = {str(m["To"]).split("<")[-1].rstrip(">"): m for m in box}
    returned = {
        who: "".join(f"{k}: {v}\n" for k, v in copies[who].items())
        for who in ("ana@example.net", "cy@example.net")
    }
    inbox.add(
        DSN.format(
            gone="ana@example.net", slow="bo@example.net", returned=returned["ana@example.net"]
        )
    )
    inbox.add(ARF.format(who="cy@example.net", returned=returned["cy@example.net"]))
    inbox.add("From: someone@example.net\nSubject: hello\n\nnot a report\n")
    result = run(config, "bounces", "--maildir", str(bounces))
    assert result.exit_code == 0, result.output
    assert "3 messages: 1 bounced, 1 complaints" in result.output
    with store.session() as session:
        assert is_suppressed(session, "ana@example.net")
        assert is_suppressed(session, "cy@example.net")
        assert not is_suppressed(session, "bo@example.net")
    again = run(config, "bounces", "--maildir", str(bounces))
    assert "0 messages" in again.output  # processed messages moved to cur/
    blocked = run(config, "subscribers", "add", "ana@example.net")
    assert blocked.exit_code == 1 and "suppression list" in blocked.output
