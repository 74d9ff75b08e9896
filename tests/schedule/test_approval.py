"""Approval: preview lead_time before the send time, send only if approved (or on_timeout)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from digest.config import Settings
from digest.delivery.tokens import BadToken, make_token
from digest.schedule import approval
from digest.schedule.approval import ApprovalError, read_link
from digest.schedule.daemon import Daemon
from digest.store import Store

SEND = datetime(2026, 11, 20, 16, 0, tzinfo=ZoneInfo("America/New_York"))


def approval_settings(staff_settings: Callable[..., Settings], on_timeout: str) -> Settings:
    return staff_settings(
        approval={
            "reviewers": ["editor@example.org", "chief@example.org"],
            "lead_time": "2h",
            "on_timeout": on_timeout,
        }
    )


def links_in(message: Any) -> dict[str, str]:
    import re

    text = message.get_payload()[0].get_payload(decode=True).decode()
    return dict(re.findall(r"^(Approve|Hold): (\S+)$", text, re.M))


def test_preview_at_lead_time_then_send_only_when_approved(
    staff_settings: Callable[..., Settings],
    store: Store,
    pipeline: Any,
    clock: Any,
    outbox: Callable[[Settings], list[Any]],
) -> None:
    settings = approval_settings(staff_settings, "hold")
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    clock.set(SEND - timedelta(hours=2, minutes=1))
    assert daemon.catch_up() == []  # too early for the preview
    clock.set(SEND - timedelta(hours=2))
    [prepared] = daemon.catch_up()
    assert prepared.outcome == "awaiting_approval"
    assert pipeline.calls[-1]["deliver"] is False and pipeline.calls[-1]["post"] is False
    assert pipeline.sent() == []
    previews = [m for m in outbox(settings) if m["Subject"].startswith("[Preview]")]
    assert sorted(m["To"] for m in previews) == ["chief@example.org", "editor@example.org"]
    link = links_in(previews[0])
    assert link["Approve"].startswith("https://digest.example.org/staff/approve/")
    decoded = read_link(settings, link["Approve"].rsplit("/", 1)[1])
    assert decoded.action == "approve" and decoded.edition_id == prepared.record.edition_id
    assert daemon.catch_up() == []  # the preview is sent once
    assert len([m for m in outbox(settings) if m["Subject"].startswith("[Preview]")]) == 2

    approval.approve(settings, store, decoded.edition_id, by=decoded.reviewer, now=clock())
    clock.set(SEND)
    result = daemon.fire("weekly")
    assert result is not None and result.outcome == "succeeded"
    assert len(pipeline.sent()) == 5
    assert pipeline.calls[-1]["collect"] is False  # the approved edition is frozen


def test_not_approved_by_send_time_is_held_then_sent_when_approved(
    staff_settings: Callable[..., Settings],
    store: Store,
    pipeline: Any,
    clock: Any,
    outbox: Callable[[Settings], list[Any]],
) -> None:
    settings = approval_settings(staff_settings, "hold")
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    clock.set(SEND - timedelta(hours=1))
    [prepared] = daemon.catch_up()
    clock.set(SEND)
    result = daemon.fire("weekly")
    assert result is not None and result.outcome == "held"
    assert pipeline.sent() == []
    assert any("Held" in m["Subject"] for m in outbox(settings))
    clock.advance(timedelta(minutes=1))
    assert [r.outcome for r in daemon.catch_up()] == ["held"]  # still no decision
    assert prepared.record is not None and prepared.record.edition_id is not None
    approval.approve(settings, store, prepared.record.edition_id, by="chief", now=clock())
    clock.advance(timedelta(minutes=1))
    assert [r.outcome for r in daemon.catch_up()] == ["succeeded"]  # the sweep sends it
    assert len(pipeline.sent()) == 5
    clock.advance(timedelta(minutes=1))
    assert daemon.catch_up() == []


def test_on_timeout_send_sends_unapproved_edition(
    staff_settings: Callable[..., Settings],
    store: Store,
    pipeline: Any,
    clock: Any,
) -> None:
    settings = approval_settings(staff_settings, "send")
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    clock.set(SEND - timedelta(hours=2))
    daemon.catch_up()
    clock.set(SEND)
    result = daemon.fire("weekly")
    assert result is not None and result.outcome == "succeeded"
    assert len(pipeline.sent()) == 5


def test_held_edition_is_not_sent_even_with_on_timeout_send(
    staff_settings: Callable[..., Settings],
    store: Store,
    pipeline: Any,
    clock: Any,
) -> None:
    settings = approval_settings(staff_settings, "send")
    daemon = Daemon(settings, store, runner=pipeline, clock=clock)
    clock.set(SEND - timedelta(hours=2))
    [prepared] = daemon.catch_up()
    assert prepared.record is not None and prepared.record.edition_id is not None
    approval.hold(settings, store, prepared.record.edition_id, by="chief", now=clock())
    clock.set(SEND)
    result = daemon.fire("weekly")
    assert result is not None and result.outcome == "held"
    assert pipeline.sent() == []


def test_missed_preview_is_prepared_at_send_time(
    staff_settings: Callable[..., Settings],
    store: Store,
    pipeline: Any,
    clock: Any,
    outbox: Callable[[Settings], list[Any]],
) -> None:
    """Down during the lead time: previews go out at start-up, on_timeout decides."""
    settings = approval_settings(staff_settings, "hold")
    clock.set(SEND + timedelta(minutes=30))
    [result] = Daemon(settings, store, runner=pipeline, clock=clock).catch_up()
    assert result.outcome == "held"
    assert {m["To"] for m in outbox(settings)} >= {"editor@example.org", "chief@example.org"}


def test_tokens_are_signed_and_for_approval_only(staff_settings: Callable[..., Settings]) -> None:
    settings = approval_settings(staff_settings, "hold")
    with pytest.raises(BadToken):
        read_link(settings, "not-a-token")
    other = make_token(
        settings.signing_secret(), "confirm", {"e": 1, "a": "approve", "r": "x", "n": "weekly"}
    )
    with pytest.raises(BadToken):
        read_link(settings, other)
    forged = make_token("another-key", "approve", {"e": 1, "a": "approve", "r": "x", "n": "weekly"})
    with pytest.raises(BadToken):
        read_link(settings, forged)


def test_sent_edition_cannot_be_approved_or_held(
    settings: Settings,
    store: Store,
    pipeline: Any,
) -> None:
    from digest.schedule import run_period

    result = run_period(settings, store, "weekly", SEND, now=SEND, runner=pipeline)
    assert result.record is not None and result.record.edition_id is not None
    from digest.store.tables import EditionRow

    with store.session() as session:
        row = session.get(EditionRow, result.record.edition_id)
        assert row is not None
        row.status = "sent"
    with pytest.raises(ApprovalError, match="already sent"):
        approval.hold(settings, store, result.record.edition_id, by="x", now=SEND)
