"""A local SMTP server (aiosmtpd) with scripted faults, and edition helpers."""

from __future__ import annotations

import base64
import copy
import ipaddress
import random
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import insert, select

from digest.render import placeholders as p
from digest.store import Store
from digest.store.tables import (
    DeliveryRow,
    EditionRow,
    SubscriberRow,
    SubscriptionRow,
)
from digest.subscribers import add_subscriber

HTML = (
    f"<p>Hello {p.SUBSCRIBER_NAME},</p><p>Workers won big this week.</p>"
    f'<p>1 Test Street, Testville</p><p><a href="{p.UNSUBSCRIBE_URL}">Unsubscribe</a> '
    f'<a href="{p.PREFERENCES_URL}">Preferences</a></p>'
)
TEXT = (
    f"Hello {p.SUBSCRIBER_NAME},\n\nWorkers won big this week.\n\n1 Test Street, Testville\n"
    f"Unsubscribe: {p.UNSUBSCRIBE_URL}\nPreferences: {p.PREFERENCES_URL}\n"
)


def make_edition(store: Store, now: datetime, newsletter: str = "weekly", **extra: Any) -> int:
    with store.session() as session:
        row = EditionRow(
            newsletter=newsletter,
            period_key=extra.pop("period_key", now.isoformat()),
            period_start=now,
            period_end=now,
            title="Weekly",
            subject=extra.pop("subject", "Worker Wins: November 20"),
            status="approved",
            sections=[],
            html=extra.pop("html", HTML),
            text=extra.pop("text", TEXT),
            web_html="",
            created_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def add_people(store: Store, now: datetime, count: int, list_name: str = "weekly") -> list[str]:
    addresses = [f"member{i}@example.net" for i in range(count)]
    with store.session() as session:
        for i, address in enumerate(addresses):
            add_subscriber(session, address, now, name=f"Member {i}", lists=(list_name,))
    return addresses


def add_many(store: Store, now: datetime, count: int, list_name: str = "weekly") -> list[str]:
    """``count`` confirmed subscribers m1@example.net… in two bulk inserts (fast)."""
    emails = [f"m{i}@example.net" for i in range(1, count + 1)]
    with store.session() as session:
        session.execute(
            insert(SubscriberRow),
            [
                {
                    "id": i,
                    "email": e,
                    "name": None,
                    "status": "active",
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i, e in enumerate(emails, 1)
            ],
        )
        session.execute(
            insert(SubscriptionRow),
            [
                {
                    "subscriber_id": i,
                    "list_name": list_name,
                    "status": "confirmed",
                    "created_at": now,
                    "confirmed_at": now,
                }
                for i in range(1, count + 1)
            ],
        )
    return emails


def write_smtp_config(
    raw_config: dict[str, Any], path: Path, port: int, **smtp: Any
) -> dict[str, Any]:
    """config.yaml for the CLI in a subprocess: the weekly newsletter through SMTP at port."""
    raw = copy.deepcopy(raw_config)
    raw["channels"] = {
        "smtp": {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "pool_size": 4,
            "retry_delay": 0.2,
            **smtp,
        }
    }
    raw["newsletters"]["weekly"]["channels"] = ["smtp"]
    path.write_text(yaml.safe_dump(raw))
    return raw


def delivery_statuses(store: Store, edition_id: int) -> Counter[str]:
    with store.session() as session:
        rows = session.execute(
            select(DeliveryRow.status).where(DeliveryRow.edition_id == edition_id)
        ).scalars()
        return Counter(rows)


@dataclass
class Sink:
    """What the server received and how it answers; faults are decided per RCPT."""

    received: list[tuple[str, bytes]] = field(default_factory=list)  # (rcpt, data)
    rcpt_reply: Callable[[str], str | None] = lambda _rcpt: None
    mail_reply: str | None = None
    drop_after_data: Callable[[str], bool] = lambda _rcpt: False
    pipelining: bool = False
    envelope_from: dict[str, str] = field(default_factory=dict)  # rcpt → MAIL FROM
    over_tls: list[bool] = field(default_factory=list)  # per DATA: was the session TLS?
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mail_from(self) -> dict[str, str]:
        """Each recipient's envelope sender (MAIL FROM), as the server saw it."""
        with self.lock:
            return dict(self.envelope_from)

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(rcpt for rcpt, _ in self.received)

    def messages_to(self, rcpt: str) -> list[Any]:
        with self.lock:
            return [message_from_bytes(data) for r, data in self.received if r == rcpt]

    # aiosmtpd hooks
    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        refusal = self.rcpt_reply(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, envelope.original_content))
                self.envelope_from[rcpt] = envelope.mail_from
            # STARTTLS sets session.ssl; an implicit-TLS server's transport is TLS itself
            tls = server.transport.get_extra_info("ssl_object") is not None
            self.over_tls.append(session.ssl is not None or tls)
        if any(self.drop_after_data(r) for r in envelope.rcpt_tos):
            server.transport.close()
        return "250 OK queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sink() -> Iterator[Sink]:
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port  # type: ignore[attr-defined]
    yield handler
    controller.stop()


@pytest.fixture
def smtp_settings(make_settings: Callable[..., Any], sink: Sink) -> Callable[..., Any]:
    def build(**smtp: Any) -> Any:
        channel = {
            "type": "smtp",
            "host": "127.0.0.1",
            "port": sink.port,  # type: ignore[attr-defined]
            "security": "none",
            "pool_size": 3,
            "retry_delay": 0.05,
            **smtp,
        }
        raw_newsletter = {
            "title": "Weekly",
            "schedule": "fri 16:00",
            "timezone": "America/New_York",
            "formats": ["weekly_list"],
            "channels": ["smtp"],
        }
        return make_settings(channels={"smtp": channel}, newsletters={"weekly": raw_newsletter})

    return build


def seeded(rate: float, seed: int = 7) -> Callable[[str], bool]:
    """A stable per-address coin: the same address always gets the same answer."""

    def pick(address: str) -> bool:
        return random.Random(f"{seed}:{address}").random() < rate

    return pick


@pytest.fixture
def start_smtp() -> Iterator[Callable[..., int]]:
    """Start more aiosmtpd servers (TLS, AUTH...) for one test; returns each one's port."""
    controllers: list[Controller] = []

    def start(handler: Sink, **options: Any) -> int:
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
        controller.start()
        controllers.append(controller)
        return int(controller.port)

    yield start
    for controller in controllers:
        controller.stop()


@dataclass(frozen=True)
class Pki:
    """A test CA and a server certificate it signed (for 127.0.0.1 and localhost)."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_pki(directory: Path, name: str) -> Pki:
    """A CA named ``name`` and a leaf certificate, written as PEM files under directory."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)  # wall clock: TLS checks certificates against the real time
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki", "digest test CA")


@dataclass(frozen=True)
class DkimKey:
    private_pem: str  # PKCS#8, as `openssl genpkey` writes it
    dns_record: bytes  # the TXT record published at SELECTOR._domainkey.DOMAIN

    def dnsfunc(self, name: str) -> Callable[..., bytes | None]:
        """A resolver for dkim.verify that knows only this key's record."""

        def lookup(qname: bytes, timeout: float = 5) -> bytes | None:
            del timeout
            return self.dns_record if qname.rstrip(b".") == name.encode() else None

        return lookup


@pytest.fixture(scope="session")
def dkim_key() -> DkimKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimKey(private_pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der))
