"""The reviewer's Approve / Hold links: scanners decide nothing, a link decides once."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import itsdangerous
import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import STAFF_HASH, add_edition, outbox_messages, two_newsletter_overrides

from digest.config import Settings
from digest.delivery.tokens import make_token
from digest.schedule.approval import request_approval
from digest.signing import SigningKeys
from digest.store import Store
from digest.store.tables import EditionRow
from digest.subscribers import add_subscriber

SEND = datetime(2026, 11, 27, 16, 0, tzinfo=ZoneInfo("America/New_York"))
REVIEWERS = ["editor@example.org", "chief@example.org"]


@pytest.fixture
def approval_settings(
    make_settings: Callable[..., Settings],
    raw_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Settings]:
    monkeypatch.setenv("DIGEST_TEST_STAFF_HASH", STAFF_HASH)

    def build(on_timeout: str = "hold", reviewers: list[str] = REVIEWERS) -> Settings:
        overrides = two_newsletter_overrides(raw_config)
        overrides["newsletters"]["weekly"] = {
            **overrides["newsletters"]["weekly"],
            "approval": {"reviewers": reviewers, "lead_time": "2h", "on_timeout": on_timeout},
        }
        return make_settings(**overrides)

    return build


def _links(settings: Settings, reviewer: str) -> dict[str, str]:
    """{'Approve': path, 'Hold': path} from the reviewer's preview email."""
    [message] = [m for m in outbox_messages(settings) if m["To"] == reviewer]
    text = message.get_payload()[0].get_payload(decode=True).decode()
    found = dict(re.findall(r"^(Approve|Hold): https://digest\.example\.org(\S+)$", text, re.M))
    assert set(found) == {"Approve", "Hold"}, text
    return found


def _edition(store: Store, edition_id: int) -> EditionRow:
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        assert row is not None
        session.expunge(row)
        return row


def _prepared(settings: Settings, store: Store, status: str = "draft") -> int:
    edition_id = add_edition(store, period_end=SEND, status=status, subject="Weekly: 27 Nov")
    request_approval(settings, store, "weekly", edition_id, SEND)
    return edition_id


def test_opening_the_link_decides_nothing_and_names_the_edition(
    approval_settings: Callable[..., Settings], make_client: Callable[..., TestClient], store: Store
) -> None:
    settings = approval_settings()
    edition_id = _prepared(settings, store)
    client = make_client(settings)
    page = client.get(_links(settings, "chief@example.org")["Approve"])
    assert page.status_code == 200, page.text
    assert "Weekly: 27 Nov" in page.text and "Friday 27 November 2026 16:00 EST" in page.text
    assert "it will NOT be sent" in page.text
    assert 'name="action" value="approve"' in page.text and 'value="hold"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert _edition(store, edition_id).status == "draft"  # a scanner's GET changed nothing


def test_a_link_decides_once_and_the_other_link_of_that_email_is_spent_too(
    approval_settings: Callable[..., Settings], make_client: Callable[..., TestClient], store: Store
) -> None:
    settings = approval_settings()
    edition_id = _prepared(settings, store)
    client = make_client(settings)
    chief = _links(settings, "chief@example.org")
    done = client.post(chief["Approve"], data={"action": "approve"})
    assert done.status_code == 200 and "Approved." in done.text
    row = _edition(store, edition_id)
    assert row.status == "approved" and row.approved_by == "chief@example.org"
    for path, action in ((chief["Approve"], "approve"), (chief["Hold"], "hold")):
        replay = client.post(path, data={"action": action})
        assert replay.status_code == 409 and "already used" in replay.text
    assert "already used" in client.get(chief["Hold"]).text
    assert _edition(store, edition_id).status == "approved"
    # another reviewer's own email still decides
    held = client.post(_links(settings, "editor@example.org")["Hold"], data={"action": "hold"})
    assert held.status_code == 200 and "Held." in held.text
    assert _edition(store, edition_id).status == "held"


def test_an_expired_link_is_refused(
    approval_settings: Callable[..., Settings],
    make_client: Callable[..., TestClient],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = approval_settings()
    edition_id = _prepared(settings, store)
    path = _links(settings, "chief@example.org")["Approve"]
    real_time = itsdangerous.timed.time.time
    # lead time 2 h + grace 6 h: gone after 8 h
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() + 8 * 3600 + 60)
    client = make_client(settings)
    assert client.get(path).status_code == 410
    assert client.post(path, data={"action": "approve"}).status_code == 410
    assert _edition(store, edition_id).status == "draft"


def test_forged_links_and_dropped_reviewers_decide_nothing(
    approval_settings: Callable[..., Settings], make_client: Callable[..., TestClient], store: Store
) -> None:
    settings = approval_settings()
    edition_id = _prepared(settings, store)
    payload = {"e": edition_id, "a": "approve", "r": "chief@example.org", "n": "weekly", "j": "x"}
    client = make_client(settings)
    for key in (SigningKeys.demo(settings.organization.site_url), "a guessed key of some length"):
        forged = client.post(
            f"/staff/approve/{make_token(key, 'approve', payload)}", data={"action": "approve"}
        )
        assert forged.status_code == 400
    path = _links(settings, "chief@example.org")["Approve"]
    without_chief = make_client(approval_settings(reviewers=["editor@example.org"]))
    refused = without_chief.post(path, data={"action": "approve"})
    assert refused.status_code == 400 and "no longer reviews" in refused.text
    assert _edition(store, edition_id).status == "draft"


def test_no_preview_email_for_an_edition_already_approved(
    approval_settings: Callable[..., Settings], store: Store
) -> None:
    settings = approval_settings()
    edition_id = add_edition(store, period_end=SEND, status="approved")
    assert request_approval(settings, store, "weekly", edition_id, SEND) == 0
    assert outbox_messages(settings) == []


def test_the_email_says_what_happens_if_nobody_decides(
    approval_settings: Callable[..., Settings], store: Store, now: datetime
) -> None:
    settings = approval_settings("send")
    with store.session() as session:
        add_subscriber(session, "reader@example.org", now, lists=("weekly",))
    _prepared(settings, store)
    [message, *_] = outbox_messages(settings)
    text = message.get_payload()[0].get_payload(decode=True).decode()
    assert (
        "If nobody decides by Friday 27 November 2026 16:00 EST, it will be sent as it is at "
        "that time to the 1 confirmed subscriber of 'Weekly'." in text
    )
