"""What the sender needs of a channel: open, send one message to some recipients, close."""

from __future__ import annotations

from typing import Protocol

from digest.channels.replies import Reply


class Transport(Protocol):
    """A channel that delivers wire-format messages (CRLF line endings).

    ``send`` returns one reply per recipient and never raises for delivery problems:
    a lost connection is a 4xx reply (try again), a refusal is the server's reply.
    ``worker`` names the caller's slot so a pooled channel can give each its connection.
    ``stuffed``, when given, is ``data`` already dot-stuffed (a channel may use it to skip
    stuffing; it must equal what stuffing ``data`` gives).
    """

    concurrency: int

    async def open(self) -> None: ...

    async def send(
        self,
        worker: int,
        envelope_from: str,
        rcpts: list[str],
        data: bytes,
        stuffed: bytes | None = None,
    ) -> dict[str, Reply]: ...

    async def close(self) -> None: ...
