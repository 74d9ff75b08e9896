"""One-off mail (staff notices, confirmations) leaves through the same SMTP transport."""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from email.policy import default
from typing import Any

import pytest

from digest.notify import NoticeError, send_notice


def test_a_staff_notice_goes_through_the_smtp_channel(
    smtp_settings: Callable[..., Any], sink: Any
) -> None:
    settings = smtp_settings()
    send_notice(settings, ["comms@example.org", "editor@example.org"], "Run failed", "Details.")
    assert sink.counts() == {"comms@example.org": 1, "editor@example.org": 1}
    message = email.message_from_bytes(sink.received[0][1], policy=default)
    assert message["Subject"] == "Run failed"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["From"].addresses[0].addr_spec == "news@example.org"


def test_a_refused_notice_is_an_error_naming_the_recipient(
    smtp_settings: Callable[..., Any], sink: Any
) -> None:
    sink.rcpt_reply = lambda rcpt: "550 5.1.1 no such mailbox" if rcpt.startswith("gone") else None
    settings = smtp_settings()
    with pytest.raises(NoticeError, match=re.escape("gone@example.org: 550")):
        send_notice(settings, ["comms@example.org", "gone@example.org"], "Run failed", "Details.")
    assert sink.counts() == {"comms@example.org": 1}
