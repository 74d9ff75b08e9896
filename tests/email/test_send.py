"""send_edition through Maildir and a local SMTP server, with the faults of the issue."""

from __future__ import annotations

import mailbox
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from digest.config import Settings
from digest.delivery import send_edition, send_test
from digest.models import RunReport
from digest.render import placeholders as p
from digest.store import Store
from digest.store.tables import DeliveryRow, EditionRow, SubscriberRow
from digest.subscribers import is_suppressed, suppress

from .conftest import Sink, add_people, make_edition, seeded


def statuses(store: Store, edition_id: int) -> dict[str, str]:
    with store.session() as session:
        rows = session.execute(
            select(DeliveryRow.email, DeliveryRow.status).where(
                DeliveryRow.edition_id == edition_id
            )
        ).all()
    return {email: status for email, status in rows}


def test_maildir_writes_each_subscriber_once_even_when_rerun(
    settings: Settings, store: Store, now: datetime, tmp_path: Any
) -> None:
    people = add_people(store, now, 12)
    with store.session() as session:
        suppress(session, people[0], "manual", now)
    edition = make_edition(store, now)
    report = RunReport()
    send_edition(settings, store, edition, report, now=now)
    send_edition(settings, store, edition, RunReport(), now=now)
    box = mailbox.Maildir(tmp_path / "out" / "outbox", create=False)
    to = sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in box)
    assert to == sorted(people[1:])  # suppressed address never got a row
    assert (report.recipients, report.sent, report.failed) == (11, 11, 0)
    with store.session() as session:
        assert session.get(EditionRow, edition).status == "sent"  # type: ignore[union-attr]


def test_audience_is_frozen_and_later_unsubscribes_still_win(
    settings: Settings, store: Store, now: datetime
) -> None:
    people = add_people(store, now, 3)
    edition = make_edition(store, now)
    with store.session() as session:  # freeze without sending: a held-then-sent edition
        from digest.delivery import ledger

        row = session.get(EditionRow, edition)
        assert row is not None
        ledger.freeze_audience(session, row, "weekly", now)
        row.status = "paused"
    add_people(store, now, 5)  # joined after the freeze: not in this edition
    with store.session() as session:
        suppress(session, people[1], "complained", now)
    report = RunReport()
    send_edition(settings, store, edition, report, now=now)
    assert statuses(store, edition) == {
        people[0]: "sent",
        people[1]: "suppressed",
        people[2]: "sent",
    }


@pytest.mark.parametrize("pipelining", [False, True])
def test_transient_refusals_are_retried_until_all_delivered(
    smtp_settings: Callable[..., Settings],
    sink: Sink,
    store: Store,
    now: datetime,
    pipelining: bool,
) -> None:
    sink.pipelining = pipelining
    coin = random.Random(3)
    sink.rcpt_reply = lambda _a: (
        coin.choice(["421 4.7.0 try later", "451 4.3.0 busy"]) if coin.random() < 0.10 else None
    )
    people = add_people(store, now, 300)
    edition = make_edition(store, now)
    report = RunReport()
    send_edition(smtp_settings(max_attempts=10), store, edition, report, now=now)
    assert sink.counts() == dict.fromkeys(people, 1)
    assert (report.sent, report.deferred, report.failed) == (300, 0, 0)


def test_unknown_mailboxes_are_suppressed_not_retried(
    smtp_settings: Callable[..., Settings], sink: Sink, store: Store, now: datetime
) -> None:
    bad = seeded(0.02, seed=11)
    attempts: list[str] = []

    def reply(address: str) -> str | None:
        attempts.append(address)
        return "550 5.1.1 no such user" if bad(address) else None

    sink.rcpt_reply = reply
    people = add_people(store, now, 400)
    gone = {a for a in people if bad(a)}
    assert gone  # the seed picks some
    edition = make_edition(store, now)
    report = RunReport()
    send_edition(smtp_settings(), store, edition, report, now=now)
    assert set(sink.counts()) == set(people) - gone
    assert all(attempts.count(a) == 1 for a in gone)
    assert report.suppressed == len(gone) and report.sent == 400 - len(gone)
    with store.session() as session:
        assert all(is_suppressed(session, a) for a in gone)
        assert {
            r.status
            for r in session.scalars(select(SubscriberRow).where(SubscriberRow.email.in_(gone)))
        } == {"bounced"}


def test_policy_refusal_pauses_the_edition_and_suppresses_nobody(
    smtp_settings: Callable[..., Settings], sink: Sink, store: Store, now: datetime
) -> None:
    sink.rcpt_reply = lambda _a: "550 5.7.26 unauthenticated email is not accepted"
    people = add_people(store, now, 50)
    edition = make_edition(store, now)
    report = RunReport()
    send_edition(smtp_settings(), store, edition, report, now=now)
    with store.session() as session:
        row = session.get(EditionRow, edition)
        assert row is not None and row.status == "paused" and "5.7.26" in (row.pause_reason or "")
        assert not any(is_suppressed(session, a) for a in people)
    assert set(statuses(store, edition).values()) == {"pending"}
    assert report.sent == 0 and report.suppressed == 0 and report.deferred == 50
    assert any("paused" in w for w in report.warnings)
    # fixed: resuming sends everyone exactly once
    sink.rcpt_reply = lambda _a: None
    send_edition(smtp_settings(), store, edition, RunReport(), now=now)
    assert sink.counts() == dict.fromkeys(people, 1)


def test_connection_dropped_after_data_resends_at_most_once(
    smtp_settings: Callable[..., Settings], sink: Sink, store: Store, now: datetime
) -> None:
    dropped: set[str] = set()

    def drop(address: str) -> bool:
        if address.endswith(("3@example.net", "7@example.net")) and address not in dropped:
            dropped.add(address)
            return True
        return False

    sink.drop_after_data = drop
    people = add_people(store, now, 40)
    edition = make_edition(store, now)
    report = RunReport()
    send_edition(smtp_settings(), store, edition, report, now=now)
    counts = sink.counts()
    assert set(counts) == set(people) and dropped
    assert all(counts[a] == 2 for a in dropped)  # the server kept it, we could not know
    assert all(counts[a] == 1 for a in set(people) - dropped)
    assert report.sent == 40


def test_a_copy_claimed_by_a_live_worker_elsewhere_waits_for_its_lease(
    settings: Settings, store: Store, now: datetime
) -> None:
    from datetime import timedelta

    from digest.delivery import ledger

    people = add_people(store, now, 3)
    edition = make_edition(store, now)
    with store.session() as session:
        row = session.get(EditionRow, edition)
        assert row is not None
        ledger.freeze_audience(session, row, "weekly", now)
    with store.session() as session:  # a worker on another host is sending the first copy
        held = ledger.claim(session, edition, "weekly", "otherhost:1:abc", now, 1, timedelta(60))
    report = RunReport()
    send_edition(settings, store, edition, report, now=now, linger=0)
    assert report.sent == 2 and report.deferred == 1
    assert statuses(store, edition)[held[0].email] == "sending"
    # the other worker never came back: once its lease is over the copy is sent, once
    later = RunReport()
    send_edition(settings, store, edition, later, now=now + timedelta(days=61), linger=0)
    assert statuses(store, edition) == dict.fromkeys(people, "sent")
    assert later.deferred == 0


def test_test_send_goes_to_staff_only_and_retries_only_the_refused(
    smtp_settings: Callable[..., Settings], sink: Sink, store: Store, now: datetime
) -> None:
    refused_once: set[str] = set()

    def reply(address: str) -> str | None:
        if address == "b@org.example" and address not in refused_once:
            refused_once.add(address)
            return "451 4.3.0 busy"
        return None

    sink.rcpt_reply = reply
    add_people(store, now, 5)
    edition = make_edition(store, now)
    outcome = send_test(smtp_settings(), store, edition, ["a@org.example", "b@org.example"])
    assert all(r.startswith("250") for r in outcome.values())
    assert sink.counts() == {"a@org.example": 1, "b@org.example": 1}
    msg = sink.messages_to("a@org.example")[0]
    assert msg["Subject"].startswith("[TEST]")
    assert statuses(store, edition) == {}  # no ledger rows


def test_ledger_message_ids_match_the_copies_and_dotted_lines_arrive_intact(
    smtp_settings: Callable[..., Settings], sink: Sink, store: Store, now: datetime
) -> None:
    """Message-IDs written in SQL are each copy's header; pre-stuffed DATA unstuffs exactly."""
    sink.pipelining = True
    people = add_people(store, now, 25)
    text = ".starts with a dot\n..two dots\n" + "." * 100 + f"\nHello {p.SUBSCRIBER_NAME}\n"
    edition = make_edition(store, now, text=text)
    send_edition(smtp_settings(), store, edition, RunReport(), now=now)
    with store.session() as session:
        ledger_ids = dict(
            session.execute(
                select(DeliveryRow.email, DeliveryRow.message_id).where(
                    DeliveryRow.edition_id == edition
                )
            ).all()
        )
    assert sink.counts() == dict.fromkeys(people, 1)
    for person in people:
        (message,) = sink.messages_to(person)
        assert message["Message-ID"] == ledger_ids[person]
        plain = message.get_payload()[0].get_payload(decode=True).decode().replace("\r\n", "\n")
        assert plain.startswith(".starts with a dot\n..two dots\n" + "." * 100 + "\n")
