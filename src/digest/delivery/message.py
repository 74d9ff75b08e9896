"""Build each recipient's copy of an edition from a MIME skeleton encoded once.

The edition's HTML and text are split at the recipient markers and quoted-printable
encoded once per edition. Each copy is the join of those pre-encoded chunks with the
recipient's values, each value wrapped in QP soft line breaks (``=`` CRLF) so it starts
at column 0 and the chunk after it does too: every line stays within 76 characters and
a marker can never be split by a soft break. Per recipient only the headers and a few
short values are encoded.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.utils import format_datetime, formataddr

from digest.channels.smtp import dot_stuff
from digest.config import Settings
from digest.delivery.tokens import SubscriberTokens
from digest.errors import DigestError
from digest.render import placeholders
from digest.urls import preferences_url, unsubscribe_mailto, unsubscribe_url

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"
# email.utils.formataddr quotes an ASCII name holding one of these (its specialsre)
NAME_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


class HeaderInjection(DigestError):
    """A value bound for a header held CR or LF."""


@dataclass(frozen=True)
class EditionContent:
    """What the sender needs of an edition row."""

    id: int
    newsletter: str
    list_name: str
    subject: str
    html: str
    text: str
    created_at: datetime
    markers: str = ""  # the edition's marker nonce (render.placeholders.Markers)


@dataclass(frozen=True)
class Outgoing:
    """One recipient's message: envelope and wire bytes (CRLF line endings)."""

    subscriber_id: int
    rcpt: str
    message_id: str
    data: bytes
    # ``data`` dot-stuffed for SMTP DATA (RFC 5321 §4.5.2), built from chunks stuffed once
    stuffed: bytes | None = None


def header_safe(name: str, value: str) -> str:
    """Refuse CR/LF (and NUL) in anything that becomes a header: no header injection."""
    if any(ch in value for ch in "\r\n\0"):
        raise HeaderInjection(f"{name}: line breaks are not allowed in a header value")
    return value


def _fold(name: str, value: str) -> bytes:
    header_safe(name, value)
    header = policy.SMTP.header_factory(name, value)
    folded: str = header.fold(policy=policy.SMTP)
    return folded.encode("ascii")


def _qp(text: str) -> bytes:
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    return encoded.replace(b"\n", CRLF)


def _split_part(text: str, markers: placeholders.Markers) -> list[bytes | str]:
    """QP-encoded chunks with (bare) marker names between them: only this edition's own
    markers are filled, so a marker that content smuggled in stays inert text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    chunks: list[bytes | str] = []
    position = 0
    for match in markers.pattern().finditer(text):
        chunks.append(_qp(text[position : match.start()]))
        chunks.append(markers.bare(match.group(0)))
        position = match.end()
    chunks.append(_qp(text[position:]))
    return [c for c in chunks if c != b""]


def _value(raw: str) -> bytes:
    """A filled-in value as a QP island starting and ending on a soft line break."""
    return SOFT_BREAK + _qp(raw) + SOFT_BREAK


def _stuff_chunk(chunk: bytes | str) -> bytes | str:
    """Static chunks all start at a line start (after the part header or a value)."""
    return dot_stuff(chunk) if isinstance(chunk, bytes) else chunk


class MessageTemplate:
    """An edition's message, encoded once, filled per recipient."""

    def __init__(self, settings: Settings, edition: EditionContent) -> None:
        if not edition.text.strip():
            raise DigestError(f"edition {edition.id}: the text part is empty")
        self.settings = settings
        self.edition = edition
        secret = settings.signing_keys()
        self._unsubscribe_token = SubscriberTokens(secret, "unsubscribe")
        self._preferences_token = SubscriberTokens(secret, "preferences")
        org = settings.organization
        self.domain = org.sender.email.rsplit("@", 1)[-1]
        self.stamp = hashlib.sha256(
            f"{edition.id}:{edition.created_at.isoformat()}".encode()
        ).hexdigest()[:10]
        self.boundary = f"=_digest_{edition.id}_{secrets.token_hex(8)}"
        self._static_head = self._build_static_head()
        markers = placeholders.Markers(edition.markers)
        self._text = _split_part(edition.text, markers)
        self._html = _split_part(edition.html, markers)
        self._text_stuffed = [_stuff_chunk(c) for c in self._text]
        self._html_stuffed = [_stuff_chunk(c) for c in self._html]
        self._date_cache: tuple[int, bytes] = (-1, b"")

    def _build_static_head(self) -> bytes:
        org = self.settings.organization
        newsletter = self.settings.newsletters.get(self.edition.newsletter)
        title = newsletter.title if newsletter else self.edition.newsletter
        parts = [
            _fold("From", formataddr((org.sender.name, org.sender.email))),
            _fold("Subject", self.edition.subject),
        ]
        if org.reply_to:
            parts.append(_fold("Reply-To", org.reply_to))
        list_id = f"{title} <{self.edition.list_name}.{self.domain}>"
        parts += [
            _fold("List-Id", list_id),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{self.boundary}"\r\n'.encode(),
        ]
        return b"".join(parts)

    def message_id(self, subscriber_id: int) -> str:
        """Stable per (edition, subscriber): a resend after a crash carries the same id."""
        prefix, suffix = self.message_id_parts()
        return f"{prefix}{subscriber_id}{suffix}"

    def message_id_parts(self) -> tuple[str, str]:
        """Every Message-ID is prefix + subscriber id + suffix (the ledger builds it in SQL)."""
        return f"<digest.{self.edition.id}.", f".{self.stamp}@{self.domain}>"

    def _date(self, now: datetime) -> bytes:
        second = int(now.timestamp())
        if self._date_cache[0] != second:
            self._date_cache = (second, f"Date: {format_datetime(now)}\r\n".encode())
        return self._date_cache[1]

    def build(self, subscriber_id: int, email: str, name: str | None, now: datetime) -> Outgoing:
        header_safe("To", email)
        if not email.isascii():
            raise DigestError(f"{email}: non-ASCII addresses need SMTPUTF8, not supported")
        list_name = self.edition.list_name
        unsub_token = self._unsubscribe_token(subscriber_id, list_name)
        prefs_token = self._preferences_token(subscriber_id, list_name)
        unsub = unsubscribe_url(self.settings, unsub_token)
        prefs = preferences_url(self.settings, prefs_token)
        clean_name = header_safe("To", name or "").strip()[:200]
        message_id = self.message_id(subscriber_id)
        to = _to_header_value(clean_name, email)
        head = b"".join(
            (
                self._date(now),
                f"To: {to}\r\n".encode("ascii"),  # formataddr already RFC 2047-encodes
                f"Message-ID: {message_id}\r\n".encode(),
                f"List-Unsubscribe: <{unsub}>,\r\n"
                f" <{unsubscribe_mailto(self.settings, unsub_token)}>\r\n".encode(),
                self._static_head,
            )
        )
        text_values = {
            placeholders.UNSUBSCRIBE_URL: unsub,
            placeholders.PREFERENCES_URL: prefs,
            placeholders.SUBSCRIBER_NAME: clean_name,
        }
        html_values = {key: html.escape(value) for key, value in text_values.items()}
        text_fill, html_fill = _filler(text_values), _filler(html_values)
        body = self._body(text_fill, html_fill, self._text, self._html)
        # values begin with a soft break, so stuffing them alone is the same as in place
        stuffed_body = self._body(
            _stuffed(text_fill), _stuffed(html_fill), self._text_stuffed, self._html_stuffed
        )
        head += CRLF
        return Outgoing(
            subscriber_id, email, message_id, head + body, dot_stuff(head) + stuffed_body
        )

    def _body(
        self,
        text_value: Callable[[str], bytes],
        html_value: Callable[[str], bytes],
        text: list[bytes | str],
        html: list[bytes | str],
    ) -> bytes:
        boundary = self.boundary.encode()
        out: list[bytes] = [
            b"--" + boundary + CRLF,
            b'Content-Type: text/plain; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
        ]
        out += [c if isinstance(c, bytes) else text_value(c) for c in text]
        out += [
            CRLF + b"--" + boundary + CRLF,
            b'Content-Type: text/html; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
        ]
        out += [c if isinstance(c, bytes) else html_value(c) for c in html]
        out.append(CRLF + b"--" + boundary + b"--" + CRLF)
        return b"".join(out)


def _to_header_value(name: str, email: str) -> str:
    """What formataddr gives, without its work for the common plain ASCII name."""
    if not name:
        return email
    if name.isascii() and not NAME_SPECIALS.search(name):
        return f"{name} <{email}>"
    return formataddr((name, email))  # quotes, escapes, RFC 2047-encodes


def _filler(values: dict[str, str]) -> Callable[[str], bytes]:
    cache: dict[str, bytes] = {}

    def value(marker: str) -> bytes:
        encoded = cache.get(marker)
        if encoded is None:
            encoded = cache[marker] = _value(values[marker])
        return encoded

    return value


def _stuffed(value: Callable[[str], bytes]) -> Callable[[str], bytes]:
    def stuffed(marker: str) -> bytes:
        return value(marker).replace(b"\r\n.", b"\r\n..")

    return stuffed
