"""Staff desk: sign-in, CSRF and auth refusals, dashboard, preview, approve / hold / test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from digest.config import Settings
from digest.store import Store
from digest.store.tables import EditionRow, RunRow, SocialPostRow
from digest.subscribers import add_subscriber

from .conftest import (
    STAFF_EMAIL,
    STAFF_PASSWORD,
    Clock,
    add_edition,
    csrf_from,
    login,
    outbox_messages,
)


def _status(store: Store, edition_id: int) -> EditionRow:
    with store.session() as session:
        row = session.get(EditionRow, edition_id)
        assert row is not None
        return row


def test_desk_pages_redirect_to_login_when_signed_out(
    client: TestClient, store: Store, now: datetime
) -> None:
    edition_id = add_edition(store, period_end=now)
    for path in (
        "/desk/",
        f"/desk/editions/{edition_id}",
        f"/desk/editions/{edition_id}/email.html",
    ):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/desk/login"


def test_desk_posts_are_refused_when_signed_out(
    client: TestClient, store: Store, now: datetime
) -> None:
    edition_id = add_edition(store, period_end=now)
    for action in ("approve", "hold", "test"):
        response = client.post(f"/desk/editions/{edition_id}/{action}", data={"csrf_token": "x"})
        assert response.status_code == 403
    assert client.post("/desk/logout").status_code == 403
    assert _status(store, edition_id).status == "draft"


def test_login_with_right_password_and_logout(client: TestClient) -> None:
    csrf = login(client)
    dashboard = client.get("/desk/")
    assert dashboard.status_code == 200 and f"Signed in as {STAFF_EMAIL}" in dashboard.text
    assert dashboard.headers["cache-control"] == "no-store"
    response = client.post("/desk/logout", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert client.get("/desk/").status_code == 303  # signed out


def test_session_cookie_is_httponly_and_scoped(client: TestClient) -> None:
    response = client.get("/desk/login")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "path=/desk" in cookie and "samesite=lax" in cookie


def test_login_with_wrong_password_is_refused(client: TestClient) -> None:
    page = client.get("/desk/login")
    response = client.post(
        "/desk/login",
        data={"email": STAFF_EMAIL, "password": "wrong", "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 403 and "not right" in response.text
    assert client.get("/desk/").status_code == 303


def test_login_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/desk/login")
    response = client.post("/desk/login", data={"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    assert response.status_code == 403
    assert client.get("/desk/").status_code == 303


def test_login_refused_with_clear_message_when_no_hash_configured(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGEST_TEST_STAFF_HASH")
    client = make_client()
    page = client.get("/desk/login")
    assert "Staff sign-in is switched off" in page.text and 'type="password"' not in page.text
    response = client.post(
        "/desk/login",
        data={"email": STAFF_EMAIL, "password": STAFF_PASSWORD},
    )
    assert response.status_code == 403 and "hash-password" in response.text
    assert client.get("/desk/").status_code == 303


def test_malformed_hash_is_reported(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_TEST_STAFF_HASH", "md5:abc")
    client = make_client()
    page = client.get("/desk/login")
    response = client.post(
        "/desk/login",
        data={"email": STAFF_EMAIL, "password": STAFF_PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 500 and "scrypt:" in response.text


def test_staff_posts_without_or_with_wrong_csrf_are_refused(
    client: TestClient, store: Store, now: datetime
) -> None:
    edition_id = add_edition(store, period_end=now)
    csrf = login(client)
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": csrf[:-1]}):
        for action in ("approve", "hold", "test"):
            response = client.post(f"/desk/editions/{edition_id}/{action}", data=data)
            assert response.status_code == 403
        assert client.post("/desk/logout", data=data).status_code == 403
    assert _status(store, edition_id).status == "draft"


def test_csrf_token_from_another_session_is_refused(
    make_client: Callable[..., TestClient], store: Store, now: datetime
) -> None:
    edition_id = add_edition(store, period_end=now)
    alice, mallory = make_client(), make_client()
    login(alice)
    mallory_csrf = login(mallory, email="mallory@example.org")
    response = alice.post(f"/desk/editions/{edition_id}/approve", data={"csrf_token": mallory_csrf})
    assert response.status_code == 403


def test_forged_session_cookie_is_not_a_session(client: TestClient) -> None:
    client.cookies.set("digest_staff", "eyJjIjoiYSIsInUiOiJ4In0.forged.sig", path="/desk")
    assert client.get("/desk/").status_code == 303


def test_login_attempts_are_rate_limited(make_client: Callable[..., TestClient]) -> None:
    from digest.web.ratelimit import RateLimiter

    client = make_client(login_limiter=RateLimiter(per_minute=1, burst=2))
    csrf = csrf_from(client.get("/desk/login").text)
    codes = [
        client.post(
            "/desk/login", data={"email": STAFF_EMAIL, "password": "nope", "csrf_token": csrf}
        ).status_code
        for _ in range(3)
    ]
    assert codes == [403, 403, 429]


def test_dashboard_shows_newsletters_drafts_runs_and_posts(
    client: TestClient, store: Store, clock: Clock
) -> None:
    clock.advance(timedelta(minutes=1))  # just after Friday's 16:00 New York run
    now = clock.now
    draft_id = add_edition(store, period_end=now, subject="Draft for review")
    sent_id = add_edition(
        store, period_end=now - timedelta(days=7), status="sent", subject="Last week"
    )
    with store.session() as session:
        add_subscriber(session, "a@example.org", now, lists=("weekly",))
        add_subscriber(session, "b@example.org", now, lists=("weekly",), status="pending")
        session.add(
            RunRow(
                newsletter="weekly",
                period_key="2026-11-13T16:00",
                status="failed",
                started_at=now - timedelta(days=7),
                finished_at=now - timedelta(days=7),
                error="source 'blog': timed out after 10s",
            )
        )
        session.add(
            SocialPostRow(
                edition_id=sent_id,
                platform="bluesky",
                part=1,
                text="This week's roundup",
                status="posted",
                url="https://bsky.app/profile/x/post/abc",
                posted_at=now,
            )
        )
    login(client)
    html = client.get("/desk/").text
    assert f'href="/desk/editions/{draft_id}"' in html and "Draft for review" in html
    assert "1 confirmed, 1 pending" in html
    assert "Fri 27 Nov 2026 16:00" in html  # weekly: next Friday 16:00 New York
    assert "Mon 23 Nov 2026 09:00" in html  # states: next Monday 09:00 Chicago
    assert "timed out after 10s" in html and 'class="status failed"' in html
    assert 'href="https://bsky.app/profile/x/post/abc"' in html
    assert "Last week" not in html  # a sent edition is not a draft


def test_preview_page_frames_the_email_at_phone_and_desktop_width(
    client: TestClient, store: Store, now: datetime
) -> None:
    edition_id = add_edition(store, period_end=now)
    login(client)
    html = client.get(f"/desk/editions/{edition_id}").text
    assert 'width="375"' in html and 'width="600"' in html
    frame = client.get(f"/desk/editions/{edition_id}/email.html")
    assert frame.status_code == 200
    assert "Hello Reader" in frame.text and "%%DIGEST" not in frame.text
    assert "sandbox" in frame.headers["content-security-policy"]
    assert client.get("/desk/editions/999").status_code == 404


def test_approve_and_hold_record_who_and_when(
    client: TestClient, store: Store, clock: Clock
) -> None:
    edition_id = add_edition(store, period_end=clock.now)
    csrf = login(client)
    held = client.post(f"/desk/editions/{edition_id}/hold", data={"csrf_token": csrf})
    assert held.status_code == 303 and _status(store, edition_id).status == "held"
    approved = client.post(f"/desk/editions/{edition_id}/approve", data={"csrf_token": csrf})
    assert approved.status_code == 303
    row = _status(store, edition_id)
    assert row.status == "approved" and row.approved_by == STAFF_EMAIL
    assert row.approved_at == clock.now
    assert "The edition is approved." in client.get(approved.headers["location"]).text


def test_a_sent_edition_cannot_be_approved_or_held(
    client: TestClient, store: Store, now: datetime
) -> None:
    edition_id = add_edition(store, period_end=now, status="sent")
    csrf = login(client)
    response = client.post(f"/desk/editions/{edition_id}/hold", data={"csrf_token": csrf})
    assert response.status_code == 409 and "sent" in response.text
    assert _status(store, edition_id).status == "sent"


def test_send_a_test_to_myself(
    client: TestClient, web_settings: Settings, store: Store, now: datetime
) -> None:
    edition_id = add_edition(store, period_end=now, subject="Weekly: proof")
    csrf = login(client)
    response = client.post(f"/desk/editions/{edition_id}/test", data={"csrf_token": csrf})
    assert response.status_code == 303
    [message] = outbox_messages(web_settings)
    assert message["To"] == STAFF_EMAIL
    assert message["Subject"] == "[TEST] Weekly: proof"
    assert _status(store, edition_id).status == "draft"  # a test changes nothing
