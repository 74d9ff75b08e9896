"""Email through an SMTP relay or ESP: a pool of reused connections, pipelined commands.

One connection per worker slot, opened on first use and reopened after a failure. When
the server offers PIPELINING (RFC 2920) MAIL, RCPT and DATA go out in one write, so a
message costs two round trips instead of four. Connection problems never raise out of
``send``: they come back as a 4xx reply, so the caller retries later. A session that
cannot be set up for a reason on our side (an untrusted TLS certificate, refused
credentials, no STARTTLS) comes back as a 5xx reply at stage ``setup``, which pauses
the edition instead of failing every recipient in turn.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import Callable, Iterable

from digest.channels.replies import Reply, lost_connection
from digest.config import SmtpChannel
from digest.errors import ConfigError, DigestError

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


def dot_stuff(data: bytes) -> bytes:
    """Double a '.' that starts a line; ``data`` is taken to start at a line start."""
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


class SmtpError(DigestError):
    """The SMTP session could not be set up (greeting, TLS or authentication).

    ``code`` is the server's reply code when it gave one, else 554 for a problem that
    retrying cannot fix; ``reply`` turns it into what the sender classifies.
    """

    def __init__(self, message: str, code: int = 554) -> None:
        super().__init__(message)
        self.code = code

    def reply(self) -> Reply:
        return Reply(self.code, str(self), stage="setup")


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
    async def open(
        cls, config: SmtpChannel, local_hostname: str, context: ssl.SSLContext | None
    ) -> SmtpConnection:
        implicit = config.security == "tls"
        try:
            async with asyncio.timeout(config.timeout):
                reader, writer = await asyncio.open_connection(
                    config.host,
                    config.port,
                    ssl=context if implicit else None,
                    server_hostname=config.host if implicit else None,
                    limit=1 << 16,
                )
        except ssl.SSLError as exc:
            raise _tls_failure(config, exc) from None
        conn = cls(reader, writer, config.timeout)
        try:
            await conn._handshake(config, local_hostname, context)
        except ssl.SSLError as exc:
            conn.abort()
            raise _tls_failure(config, exc) from None
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
                raise SmtpError(f"{where(config)}: greeting refused: {greeting}", greeting.code)
            await self._ehlo(config, local_hostname)
            if config.security == "starttls":
                if "STARTTLS" not in self.extensions:
                    raise SmtpError(
                        f"{where(config)}: security is starttls but the server does not "
                        "offer STARTTLS; nothing was sent in the clear"
                    )
                reply = await self.command(b"STARTTLS\r\n")
                if reply.code != 220:
                    raise SmtpError(f"{where(config)}: STARTTLS refused: {reply}", reply.code)
                assert context is not None
                await self.writer.start_tls(context, server_hostname=config.host)
                await self._ehlo(config, local_hostname)
            if config.username is not None:
                password = config.password.resolve() if config.password else ""
                await self._login(config, config.username.resolve(), password)

    async def _ehlo(self, config: SmtpChannel, local_hostname: str) -> None:
        reply = await self.command(f"EHLO {local_hostname}\r\n".encode())
        if reply.code != 250:
            raise SmtpError(f"{where(config)}: EHLO refused: {reply}", reply.code)
        self.extensions = {}
        for line in reply.text.splitlines()[1:]:
            keyword, _, params = line.partition(" ")
            self.extensions[keyword.upper()] = params

    async def _login(self, config: SmtpChannel, username: str, password: str) -> None:
        offered = self.extensions.get("AUTH")
        methods = (offered or "").upper().split()
        plain = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
        if "PLAIN" in methods:
            mechanism = "PLAIN"
            reply = await self.command(f"AUTH PLAIN {plain}\r\n".encode())
        elif "LOGIN" in methods:
            mechanism = "LOGIN"
            reply = await self.command(b"AUTH LOGIN\r\n")
            for value in (username, password):
                if reply.code != 334:
                    break
                reply = await self.command(base64.b64encode(value.encode()) + b"\r\n")
        elif offered is None:
            cleartext = config.security == "none"
            hint = " without TLS (use security: starttls or tls)" if cleartext else ""
            raise SmtpError(f"{where(config)}: the server offers no AUTH{hint}")
        else:
            raise SmtpError(f"{where(config)}: no AUTH PLAIN or LOGIN (offered: {offered})")
        if reply.code != 235:
            # the server's words may quote what we sent: strip every form of the secrets
            text = _redact(str(reply), _secret_forms(username, password, plain))
            raise SmtpError(
                f"{where(config)}: AUTH {mechanism} refused: {text}; check the username "
                "and password environment variables",
                reply.code,
            )

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

    async def transaction(
        self, sender: str, rcpts: list[str], data: bytes, stuffed: bytes | None = None
    ) -> dict[str, Reply]:
        """MAIL, RCPT per recipient, DATA; one reply per recipient.

        ``stuffed`` is ``data`` already dot-stuffed (the message template builds it from
        chunks stuffed once per edition); without it the data is stuffed here.
        """
        if stuffed is None or not stuffed.endswith(b"\r\n"):
            if not data.endswith(b"\r\n"):
                data += b"\r\n"
            stuffed = dot_stuff(data)
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


def where(config: SmtpChannel) -> str:
    return f"SMTP {config.host}:{config.port}"


def _tls_failure(config: SmtpChannel, exc: ssl.SSLError) -> Exception:
    """An untrusted certificate or a failed handshake is our setup: a clear, final error.

    An EOF in the middle of the handshake is the server going away: retry later.
    """
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return ConnectionError(f"{where(config)}: TLS handshake cut off: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        fix = (
            f"; ca_file {config.ca_file} did not vouch for it"
            if config.ca_file
            else "; if the relay uses a private CA, set ca_file to its certificate"
        )
        return SmtpError(
            f"{where(config)}: TLS certificate not trusted ({exc.verify_message}){fix}"
        )
    hint = (
        " (security: tls wants a port that speaks TLS at once, usually 465; "
        "587 wants security: starttls)"
        if config.security == "tls"
        else ""
    )
    return SmtpError(f"{where(config)}: TLS handshake failed: {exc.reason or exc}{hint}")


def _secret_forms(username: str, password: str, plain: str) -> list[str]:
    forms = [password, username, plain]
    forms += [base64.b64encode(v.encode()).decode() for v in (username, password)]
    return [f for f in forms if f]


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


def tls_context(config: SmtpChannel) -> ssl.SSLContext | None:
    """The client context, verifying the relay against ca_file or the system's CAs."""
    if config.security == "none":
        return None
    try:
        return ssl.create_default_context(
            cafile=str(config.ca_file) if config.ca_file is not None else None
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            [f"channels: smtp {config.host}: ca_file {config.ca_file}: cannot load it ({exc})"]
        ) from None


class SmtpTransport:
    """A pool of ``pool_size`` connections; worker slot i always uses connection i."""

    def __init__(self, config: SmtpChannel, local_hostname: str | None = None) -> None:
        self.config = config
        self.concurrency = max(1, config.pool_size)
        self.local_hostname = local_hostname or socket.getfqdn() or "localhost"
        self._pool: list[SmtpConnection | None] = [None] * self.concurrency
        self._tls = tls_context(config)
        self._sign = _dkim_signer(config)

    async def open(self) -> None:
        # connections open lazily, so a relay that is down shows up as retryable replies
        return None

    async def send(
        self,
        worker: int,
        envelope_from: str,
        rcpts: list[str],
        data: bytes,
        stuffed: bytes | None = None,
    ) -> dict[str, Reply]:
        if self._sign is not None:
            signed = self._sign(data)
            signature = signed[: len(signed) - len(data)]
            # the signature header ends a line, so the stuffed message follows it unchanged
            if stuffed is not None and signature.endswith(b"\r\n"):
                stuffed = dot_stuff(signature) + stuffed
            else:
                stuffed = None
            data = signed
        conn = self._pool[worker]
        try:
            if conn is None:
                conn = await SmtpConnection.open(self.config, self.local_hostname, self._tls)
                self._pool[worker] = conn
            return await conn.transaction(envelope_from, rcpts, data, stuffed)
        except SmtpError as exc:
            self._drop(worker, conn)
            return dict.fromkeys(rcpts, exc.reply())
        except (
            OSError,
            TimeoutError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ) as exc:
            self._drop(worker, conn)
            reason = str(exc) or type(exc).__name__
            return {rcpt: lost_connection(reason) for rcpt in rcpts}

    def _drop(self, worker: int, conn: SmtpConnection | None) -> None:
        if conn is not None:
            conn.abort()
        self._pool[worker] = None

    async def close(self) -> None:
        for index, conn in enumerate(self._pool):
            if conn is not None:
                await conn.quit()
            self._pool[index] = None


def _dkim_signer(config: SmtpChannel) -> Callable[[bytes], bytes] | None:
    """Sign the final bytes, naming both List- headers in h= (RFC 8058 §4).

    The key is tried once here, so a bad key stops the send before anyone is mailed
    instead of failing on every message.
    """
    if not (config.dkim_selector and config.dkim_domain and config.dkim_private_key):
        return None
    import dkim

    key = _pem(config.dkim_private_key.resolve())
    selector = config.dkim_selector.encode()
    domain = config.dkim_domain.encode()

    def sign(data: bytes) -> bytes:
        present = [h for h in DKIM_HEADERS if _has_header(data, h)]
        signature: bytes = dkim.sign(data, selector, domain, key, include_headers=present)
        return signature.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + data

    try:
        sign(b"From: check@" + domain + b"\r\nSubject: key check\r\n\r\nkey check\r\n")
    except dkim.DKIMException as exc:
        raise ConfigError(
            [
                f"channels: smtp {config.host}: dkim_private_key "
                f"({config.dkim_private_key}) is not a usable RSA private key in PEM: {exc}"
            ]
        ) from None
    return sign


def _pem(value: str) -> bytes:
    """The key as dkimpy reads it: LF line endings ('\\n' escapes from .env files undone)."""
    if "\n" not in value and "\\n" in value:
        value = value.replace("\\n", "\n")
    return value.replace("\r\n", "\n").strip().encode() + b"\n"


def _has_header(data: bytes, name: bytes) -> bool:
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(name.lower() + b":") or (b"\r\n" + name.lower() + b":") in head
