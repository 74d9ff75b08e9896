"""Email through an SMTP relay or ESP: a pool of reused connections, pipelined commands.

One connection per worker slot, opened on first use and reopened after a failure. When
the server offers PIPELINING (RFC 2920) MAIL, RCPT and DATA go out in one write, so a
message costs two round trips instead of four. Connection problems never raise out of
``send``: they come back as a 4xx reply, so the caller retries later.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import Callable

from digest.config import SmtpChannel
from digest.delivery.replies import Reply, lost_connection
from digest.errors import DigestError

MAX_REPLY_LINES = 100

DKIM_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"Reply-To",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
)


class SmtpError(DigestError):
    """The SMTP session could not be set up (greeting, TLS or authentication)."""


class SmtpConnection:
    """One SMTP session over asyncio streams."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self.extensions: dict[str, str] = {}

    @classmethod
    async def open(cls, config: SmtpChannel, local_hostname: str) -> SmtpConnection:
        context = ssl.create_default_context() if config.security != "none" else None
        async with asyncio.timeout(config.timeout):
            reader, writer = await asyncio.open_connection(
                config.host,
                config.port,
                ssl=context if config.security == "tls" else None,
                server_hostname=config.host if config.security == "tls" else None,
                limit=1 << 16,
            )
        conn = cls(reader, writer, config.timeout)
        try:
            await conn._handshake(config, local_hostname, context)
        except BaseException:
            conn.abort()
            raise
        return conn

    async def _handshake(
        self, config: SmtpChannel, local_hostname: str, context: ssl.SSLContext | None
    ) -> None:
        async with asyncio.timeout(self.timeout):
            greeting = await self.read_reply("connect")
            if greeting.code != 220:
                raise SmtpError(f"{config.host}: greeting refused: {greeting}")
            await self._ehlo(local_hostname)
            if config.security == "starttls":
                if "STARTTLS" not in self.extensions:
                    raise SmtpError(f"{config.host}: server does not offer STARTTLS")
                reply = await self.command(b"STARTTLS\r\n")
                if reply.code != 220:
                    raise SmtpError(f"{config.host}: STARTTLS refused: {reply}")
                assert context is not None
                await self.writer.start_tls(context, server_hostname=config.host)
                await self._ehlo(local_hostname)
            if config.username is not None:
                password = config.password.resolve() if config.password else ""
                await self._login(config.username.resolve(), password)

    async def _ehlo(self, local_hostname: str) -> None:
        reply = await self.command(f"EHLO {local_hostname}\r\n".encode())
        if reply.code != 250:
            raise SmtpError(f"EHLO refused: {reply}")
        self.extensions = {}
        for line in reply.text.splitlines()[1:]:
            keyword, _, params = line.partition(" ")
            self.extensions[keyword.upper()] = params

    async def _login(self, username: str, password: str) -> None:
        methods = self.extensions.get("AUTH", "").upper().split()
        if "PLAIN" in methods:
            secret = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
            reply = await self.command(f"AUTH PLAIN {secret}\r\n".encode())
        elif "LOGIN" in methods:
            reply = await self.command(b"AUTH LOGIN\r\n")
            for value in (username, password):
                if reply.code != 334:
                    break
                reply = await self.command(base64.b64encode(value.encode()) + b"\r\n")
        else:
            raise SmtpError("the server offers neither AUTH PLAIN nor AUTH LOGIN")
        if reply.code != 235:
            raise SmtpError(f"authentication failed: {reply.code}")  # never echo secrets

    async def read_reply(self, stage: str) -> Reply:
        lines: list[str] = []
        code = 0
        for _ in range(MAX_REPLY_LINES):
            raw = await self.reader.readuntil(b"\n")
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if len(line) < 3 or not line[:3].isdigit():
                raise ConnectionError(f"malformed SMTP reply line: {line[:80]!r}")
            code = int(line[:3])
            lines.append(line[4:])
            if line[3:4] != "-":
                return Reply(code, "\n".join(lines), stage)
        raise ConnectionError("SMTP reply too long")

    async def command(self, line: bytes, stage: str = "command") -> Reply:
        self.writer.write(line)
        return await self.read_reply(stage)

    async def transaction(self, sender: str, rcpts: list[str], data: bytes) -> dict[str, Reply]:
        """MAIL, RCPT per recipient, DATA; one reply per recipient."""
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        stuffed = data.replace(b"\r\n.", b"\r\n..")
        size = f" SIZE={len(stuffed)}" if "SIZE" in self.extensions else ""
        mail_cmd = f"MAIL FROM:<{sender}>{size}\r\n".encode()
        rcpt_cmds = [f"RCPT TO:<{rcpt}>\r\n".encode() for rcpt in rcpts]
        async with asyncio.timeout(self.timeout):
            if "PIPELINING" in self.extensions:
                self.writer.write(b"".join([mail_cmd, *rcpt_cmds, b"DATA\r\n"]))
                mail = await self.read_reply("mail")
                rcpt_replies = [await self.read_reply("rcpt") for _ in rcpts]
                data_start = await self.read_reply("data")
            else:
                mail = await self.command(mail_cmd, "mail")
                if mail.code != 250:
                    await self.command(b"RSET\r\n")
                    return dict.fromkeys(rcpts, mail)
                rcpt_replies = [await self.command(cmd, "rcpt") for cmd in rcpt_cmds]
                accepted_any = any(r.code in (250, 251) for r in rcpt_replies)
                data_start = (
                    await self.command(b"DATA\r\n", "data")
                    if accepted_any
                    else Reply(554, "5.5.1 no valid recipients", "data")
                )
            return await self._finish(rcpts, mail, rcpt_replies, data_start, stuffed)

    async def _finish(
        self,
        rcpts: list[str],
        mail: Reply,
        rcpt_replies: list[Reply],
        data_start: Reply,
        stuffed: bytes,
    ) -> dict[str, Reply]:
        if data_start.code == 354 and (mail.code != 250 or not _accepted(rcpt_replies)):
            # a pipelining server took DATA although nobody is to receive it: end it empty
            self.writer.write(b".\r\n")
            await self.read_reply("data")
        if mail.code != 250:
            await self.command(b"RSET\r\n")
            return dict.fromkeys(rcpts, mail)
        results = {
            rcpt: reply
            for rcpt, reply in zip(rcpts, rcpt_replies, strict=True)
            if reply.code not in (250, 251)
        }
        accepted = [rcpt for rcpt in rcpts if rcpt not in results]
        if not accepted:
            if data_start.code != 354:
                await self.command(b"RSET\r\n")
            return results
        if data_start.code != 354:
            await self.command(b"RSET\r\n")
            return {**results, **dict.fromkeys(accepted, data_start)}
        self.writer.write(stuffed + b".\r\n")
        final = await self.read_reply("data")
        return {**results, **dict.fromkeys(accepted, final)}

    async def quit(self) -> None:
        try:
            async with asyncio.timeout(2):
                await self.command(b"QUIT\r\n")
        except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        self.abort()

    def abort(self) -> None:
        self.writer.close()


def _accepted(replies: list[Reply]) -> bool:
    return any(reply.code in (250, 251) for reply in replies)


class SmtpTransport:
    """A pool of ``pool_size`` connections; worker slot i always uses connection i."""

    def __init__(self, config: SmtpChannel, local_hostname: str | None = None) -> None:
        self.config = config
        self.concurrency = max(1, config.pool_size)
        self.local_hostname = local_hostname or socket.getfqdn() or "localhost"
        self._pool: list[SmtpConnection | None] = [None] * self.concurrency
        self._sign = _dkim_signer(config)

    async def open(self) -> None:
        # connections open lazily, so a relay that is down shows up as retryable replies
        return None

    async def send(
        self, worker: int, envelope_from: str, rcpts: list[str], data: bytes
    ) -> dict[str, Reply]:
        if self._sign is not None:
            data = self._sign(data)
        conn = self._pool[worker]
        try:
            if conn is None:
                conn = await SmtpConnection.open(self.config, self.local_hostname)
                self._pool[worker] = conn
            return await conn.transaction(envelope_from, rcpts, data)
        except (
            OSError,
            TimeoutError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            SmtpError,
        ) as exc:
            if conn is not None:
                conn.abort()
            self._pool[worker] = None
            reason = str(exc) or type(exc).__name__
            return {rcpt: lost_connection(reason) for rcpt in rcpts}

    async def close(self) -> None:
        for index, conn in enumerate(self._pool):
            if conn is not None:
                await conn.quit()
            self._pool[index] = None


def _dkim_signer(config: SmtpChannel) -> Callable[[bytes], bytes] | None:
    """Sign the final bytes, naming both List- headers in h= (RFC 8058 §4)."""
    if not (config.dkim_selector and config.dkim_domain and config.dkim_private_key):
        return None
    import dkim

    key = config.dkim_private_key.resolve().encode()
    selector = config.dkim_selector.encode()
    domain = config.dkim_domain.encode()

    def sign(data: bytes) -> bytes:
        present = [h for h in DKIM_HEADERS if _has_header(data, h)]
        signature: bytes = dkim.sign(data, selector, domain, key, include_headers=present)
        return signature.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + data

    return sign


def _has_header(data: bytes, name: bytes) -> bool:
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(name.lower() + b":") or (b"\r\n" + name.lower() + b":") in head
