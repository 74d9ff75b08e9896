"""What an SMTP reply means for one recipient (RFC 5321 §4.2, RFC 3463 enhanced codes)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")


class Verdict(Enum):
    SENT = "sent"
    RETRY = "retry"  # 4xx or a lost connection: try again later with backoff
    SUPPRESS = "suppress"  # 5.1.x: the mailbox does not exist; never mail it again
    PAUSE = "pause"  # 5.7.x or a refused sender: our side is wrong; stop, suppress nobody
    FAIL = "fail"  # any other permanent refusal of this one recipient


@dataclass(frozen=True)
class Reply:
    code: int
    text: str
    stage: str = "data"  # mail | rcpt | data | connect | setup (TLS, AUTH: our side)

    @property
    def enhanced(self) -> str | None:
        match = ENHANCED.match(self.text.strip())
        return match.group(0) if match else None

    def __str__(self) -> str:
        if self.stage == "setup":  # our own account of a failed session, server reply inside
            return self.text
        return f"{self.code} {self.text}".strip()


SENT = Reply(250, "OK")


def lost_connection(detail: str) -> Reply:
    """The server vanished: whether it took the message is unknown, so retry once more."""
    return Reply(451, f"4.4.2 connection lost: {detail}", stage="connect")


def classify(reply: Reply) -> Verdict:
    if 200 <= reply.code < 300:
        return Verdict.SENT
    if 400 <= reply.code < 500:
        return Verdict.RETRY
    enhanced = reply.enhanced or ""
    if enhanced.startswith("5.7."):
        return Verdict.PAUSE
    if reply.stage in ("mail", "setup"):
        # the relay refused our sender, our credentials or our TLS setup: every message
        # would fail the same way
        return Verdict.PAUSE
    if enhanced.startswith("5.1."):
        return Verdict.SUPPRESS
    # without an enhanced code a 550 may be policy as much as a missing mailbox:
    # fail this copy but keep the address
    return Verdict.FAIL
