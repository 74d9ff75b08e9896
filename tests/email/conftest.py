"""A local SMTP server (aiosmtpd) with scripted faults, and edition helpers."""

from __future__ import annotations

import random
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from digest.render import placeholders as p
from digest.store import Store
from digest.store.tables import EditionRow
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


@dataclass
class Sink:
    """What the server received and how it answers; faults are decided per RCPT."""

    received: list[tuple[str, bytes]] = field(default_factory=list)  # (rcpt, data)
    rcpt_reply: Callable[[str], str | None] = lambda _rcpt: None
    mail_reply: str | None = None
    drop_after_data: Callable[[str], bool] = lambda _rcpt: False
    pipelining: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

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
