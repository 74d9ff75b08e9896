"""Email into a real Maildir (tmp/ → new/): the embedded default, no SMTP needed.

Each subscriber's copy is a complete RFC 5322 message that any mail client opens. It
goes through the same delivery ledger as SMTP, so a rerun never writes anyone twice.
"""

from __future__ import annotations

import mailbox
from pathlib import Path

from digest.channels.replies import SENT, Reply


class MaildirTransport:
    concurrency = 1

    def __init__(self, path: Path) -> None:
        self.path = path
        self._box: mailbox.Maildir | None = None
        self._problem: str | None = None

    async def open(self) -> None:
        try:
            for sub in ("tmp", "new", "cur"):  # Maildir(create=True) skips an existing folder
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            self._box = mailbox.Maildir(self.path, create=False)
        except (OSError, mailbox.Error) as exc:
            # unwritable or full: every copy comes back as a 4xx and waits (deferred)
            self._problem = str(exc)

    async def send(
        self,
        worker: int,
        envelope_from: str,
        rcpts: list[str],
        data: bytes,
        stuffed: bytes | None = None,
    ) -> dict[str, Reply]:
        del worker, stuffed  # a Maildir file holds the message as is
        if self._box is None:
            problem = self._problem or "not opened"
            return {
                rcpt: Reply(451, f"4.3.0 cannot write to {self.path}: {problem}") for rcpt in rcpts
            }
        # Maildir files use the local line ending; Return-Path records the envelope
        message = f"Return-Path: <{envelope_from}>\n".encode() + data.replace(b"\r\n", b"\n")
        try:
            self._box.add(message)  # written to tmp/, then moved into new/
        except OSError as exc:
            return {rcpt: Reply(451, f"4.3.0 cannot write to {self.path}: {exc}") for rcpt in rcpts}
        return dict.fromkeys(rcpts, SENT)

    async def close(self) -> None:
        self._box = None
