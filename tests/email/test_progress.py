"""A send reports its progress as events for the caller to draw; delivery draws nothing."""

from __future__ import annotations

from datetime import datetime

from digest.config import Settings
from digest.delivery import send_edition
from digest.delivery.sender import SendProgress
from digest.models import RunReport
from digest.store import Store

from .conftest import add_people, make_edition


def test_progress_is_reported_from_the_start_to_the_last_batch(
    settings: Settings, store: Store, now: datetime
) -> None:
    add_people(store, now, 7)
    edition = make_edition(store, now)
    events: list[SendProgress] = []
    send_edition(settings, store, edition, RunReport(), now=now, on_progress=events.append)
    assert events[0].done == 0 and events[0].settled_now == 0 and events[0].total == 7
    assert events[-1].done == events[-1].total == events[-1].settled_now == 7
    assert [e.done for e in events] == sorted(e.done for e in events)
    again: list[SendProgress] = []
    send_edition(settings, store, edition, RunReport(), now=now, on_progress=again.append)
    assert again == []  # nothing left to send: no send started, nothing to report
