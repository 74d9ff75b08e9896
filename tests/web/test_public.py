"""Sign-up with double opt-in, confirm, one-click unsubscribe (RFC 8058), preferences."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import itsdangerous.timed
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from digest.config import Settings
from digest.delivery.tokens import subscriber_token
from digest.store import Store
from digest.store.tables import ConsentRow, SubscriberRow, SubscriptionRow
from digest.subscribers import add_subscriber, suppress
from digest.web.ratelimit import RateLimiter

from .conftest import Clock, confirm_path_from, outbox_messages


def _subscribe(client: TestClient, email: str, lists: list[str], **extra: str) -> str:
    response = client.post(
        "/subscribe",
        data={"email": email, "name": "Ada", "lists": lists, **extra},
        headers={"user-agent": "pytest-browser/1.0"},
    )
    assert response.status_code == 200, response.text
    return response.text


def _subscription(store: Store, email: str, list_name: str) -> SubscriptionRow | None:
    with store.session() as session:
        subscriber = session.scalars(
            select(SubscriberRow).where(SubscriberRow.email == email)
        ).one()
        return session.get(SubscriptionRow, (subscriber.id, list_name))


def test_subscribe_form_has_labelled_fields_and_every_newsletter(client: TestClient) -> None:
    html = client.get("/subscribe").text
    assert '<html lang="en">' in html
    for field in ("email", "name", "list-weekly", "list-states"):
        assert f'for="{field}"' in html and f'id="{field}"' in html
    assert "In the States" in html and "Weekly" in html


def test_subscribe_records_pending_subscription_consent_and_mails_a_link(
    client: TestClient, web_settings: Settings, store: Store, clock: Clock
) -> None:
    html = _subscribe(client, "Ada@Example.ORG", ["weekly", "states"])
    assert "Check your inbox" in html
    assert _subscription(store, "ada@example.org", "weekly").status == "pending"  # type: ignore[union-attr]
    with store.session() as session:
        consents = session.scalars(select(ConsentRow).order_by(ConsentRow.list_name)).all()
    assert [c.list_name for c in consents] == ["states", "weekly"]
    consent = consents[0]
    assert consent.form == "web/subscribe"
    assert consent.text_version.startswith("sha256:")
    assert consent.ip == "testclient"
    assert consent.user_agent == "pytest-browser/1.0"
    assert consent.created_at == clock.now and consent.confirmed_at is None

    [message] = outbox_messages(web_settings)
    assert message["To"] == "ada@example.org"  # stored and mailed normalized
    assert "confirm" in message["Subject"].lower()
    assert confirm_path_from(message).startswith("/confirm/")


def test_confirm_get_changes_nothing_and_post_confirms(
    client: TestClient, web_settings: Settings, store: Store
) -> None:
    _subscribe(client, "ada@example.org", ["weekly"])
    path = confirm_path_from(outbox_messages(web_settings)[0])
    page = client.get(path)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert _subscription(store, "ada@example.org", "weekly").status == "pending"  # type: ignore[union-attr]

    done = client.post(path)
    assert done.status_code == 200 and "You are subscribed" in done.text
    assert _subscription(store, "ada@example.org", "weekly").status == "confirmed"  # type: ignore[union-attr]
    with store.session() as session:
        assert all(c.confirmed_at is not None for c in session.scalars(select(ConsentRow)))
    assert client.post(path).status_code == 200  # confirming twice is harmless
    assert "/p/" in done.text


def test_confirm_link_expires_after_72_hours(
    client: TestClient, web_settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _subscribe(client, "late@example.org", ["weekly"])
    path = confirm_path_from(outbox_messages(web_settings)[0])
    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() + 73 * 3600)
    response = client.post(path)
    assert response.status_code == 410 and "expired" in response.text
    assert client.get(path).status_code == 410
    assert _subscription(store, "late@example.org", "weekly").status == "pending"  # type: ignore[union-attr]


def test_tampered_confirm_link_is_refused(client: TestClient, web_settings: Settings) -> None:
    _subscribe(client, "ada@example.org", ["weekly"])
    path = confirm_path_from(outbox_messages(web_settings)[0])
    assert client.post(path[:-3] + "xyz").status_code == 400


def test_known_and_new_addresses_get_the_same_answer(
    client: TestClient, store: Store, now: object, clock: Clock
) -> None:
    with store.session() as session:
        add_subscriber(session, "known@example.org", clock.now, lists=("weekly",))
        add_subscriber(session, "gone@example.org", clock.now)
        suppress(session, "gone@example.org", "bounced", clock.now)
    answers = {
        email: _subscribe(client, email, ["weekly"]).replace(email, "ADDRESS")
        for email in ("new@example.org", "known@example.org", "gone@example.org")
    }
    assert len(set(answers.values())) == 1


def test_suppressed_address_gets_no_mail_and_stays_off_the_list(
    client: TestClient, web_settings: Settings, store: Store, clock: Clock
) -> None:
    with store.session() as session:
        add_subscriber(session, "gone@example.org", clock.now)
        suppress(session, "gone@example.org", "complained", clock.now)
    _subscribe(client, "gone@example.org", ["weekly"])
    assert outbox_messages(web_settings) == []
    assert _subscription(store, "gone@example.org", "weekly") is None


def test_confirmed_subscriber_signing_up_again_stays_confirmed_and_keeps_name(
    client: TestClient, store: Store, clock: Clock
) -> None:
    with store.session() as session:
        add_subscriber(session, "known@example.org", clock.now, name="Real", lists=("weekly",))
    _subscribe(client, "known@example.org", ["weekly"])
    assert _subscription(store, "known@example.org", "weekly").status == "confirmed"  # type: ignore[union-attr]
    with store.session() as session:
        row = session.scalars(select(SubscriberRow)).one()
    assert row.name == "Real"


def test_second_request_within_cooldown_sends_no_second_mail(
    client: TestClient, web_settings: Settings, clock: Clock
) -> None:
    _subscribe(client, "ada@example.org", ["weekly"])
    _subscribe(client, "ada@example.org", ["weekly"])
    assert len(outbox_messages(web_settings)) == 1
    clock.advance(timedelta(minutes=11))
    _subscribe(client, "ada@example.org", ["weekly"])
    assert len(outbox_messages(web_settings)) == 2


def test_honeypot_filled_looks_accepted_but_does_nothing(
    client: TestClient, web_settings: Settings, store: Store
) -> None:
    html = _subscribe(client, "bot@example.org", ["weekly"], website="http://spam.example")
    assert "Check your inbox" in html
    assert outbox_messages(web_settings) == []
    with store.session() as session:
        assert session.scalars(select(SubscriberRow)).first() is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"email": "not-an-address", "lists": ["weekly"]}, "name@example.org"),
        ({"email": "", "lists": ["weekly"]}, "enter your email"),
        ({"email": "a@example.org"}, "at least one newsletter"),
        ({"email": "a@example.org", "lists": ["nope"]}, "unknown newsletter: nope"),
    ],
)
def test_bad_signups_are_refused_with_the_reason(
    client: TestClient, data: dict[str, object], problem: str
) -> None:
    response = client.post("/subscribe", data=data)
    assert response.status_code == 400
    assert problem.lower() in response.text.lower()
    assert 'role="alert"' in response.text


def test_signups_are_rate_limited_per_client(make_client: Callable[..., TestClient]) -> None:
    limited = make_client(signup_limiter=RateLimiter(per_minute=1, burst=2))
    for n in range(2):
        assert (
            limited.post(
                "/subscribe", data={"email": f"a{n}@example.org", "lists": ["weekly"]}
            ).status_code
            == 200
        )
    refused = limited.post("/subscribe", data={"email": "a3@example.org", "lists": ["weekly"]})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"


# --- RFC 8058 ---------------------------------------------------------------------------


@pytest.fixture
def subscribed(store: Store, clock: Clock, web_settings: Settings) -> tuple[int, str]:
    with store.session() as session:
        row = add_subscriber(session, "reader@example.org", clock.now, lists=("weekly", "states"))
        subscriber_id = row.id
    token = subscriber_token(web_settings.signing_secret(), "unsubscribe", subscriber_id, "weekly")
    return subscriber_id, token


def _status(store: Store, subscriber_id: int, list_name: str) -> str:
    with store.session() as session:
        sub = session.get(SubscriptionRow, (subscriber_id, list_name))
        assert sub is not None
        return sub.status


def test_one_click_post_urlencoded_unsubscribes_with_200_twice(
    client: TestClient, store: Store, subscribed: tuple[int, str]
) -> None:
    subscriber_id, token = subscribed
    for _ in range(2):
        response = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
        assert "You are unsubscribed" in response.text
    assert _status(store, subscriber_id, "weekly") == "unsubscribed"
    assert _status(store, subscriber_id, "states") == "confirmed"  # only the token's list


def test_one_click_post_multipart_unsubscribes(
    client: TestClient, store: Store, subscribed: tuple[int, str]
) -> None:
    subscriber_id, token = subscribed
    response = client.post(f"/u/{token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert _status(store, subscriber_id, "weekly") == "unsubscribed"


def test_one_click_post_needs_no_cookie_and_ignores_stray_cookies(
    client: TestClient, store: Store, subscribed: tuple[int, str]
) -> None:
    subscriber_id, token = subscribed
    client.cookies.set("digest_staff", "garbage")
    response = client.post(
        f"/u/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert _status(store, subscriber_id, "weekly") == "unsubscribed"


def test_unsubscribe_get_shows_a_button_and_changes_nothing(
    client: TestClient, store: Store, subscribed: tuple[int, str]
) -> None:
    subscriber_id, token = subscribed
    response = client.get(f"/u/{token}")
    assert response.status_code == 200
    assert f'action="/u/{token}"' in response.text and "<button" in response.text
    assert 'name="List-Unsubscribe" value="One-Click"' in response.text
    assert _status(store, subscriber_id, "weekly") == "confirmed"


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_or_wrong_purpose_token_gets_4xx(
    client: TestClient,
    store: Store,
    web_settings: Settings,
    subscribed: tuple[int, str],
    method: str,
) -> None:
    subscriber_id, token = subscribed
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    preferences_token = subscriber_token(
        web_settings.signing_secret(), "preferences", subscriber_id, "weekly"
    )
    for bad in (tampered, preferences_token, "nonsense"):
        response = getattr(client, method)(
            f"/u/{bad}", **({"data": {"List-Unsubscribe": "One-Click"}} if method == "post" else {})
        )
        assert 400 <= response.status_code < 500
        assert response.status_code not in (301, 302, 303, 307, 308)
    assert _status(store, subscriber_id, "weekly") == "confirmed"


def test_post_without_one_click_body_is_refused(
    client: TestClient, store: Store, subscribed: tuple[int, str]
) -> None:
    subscriber_id, token = subscribed
    assert client.post(f"/u/{token}", data={"other": "x"}).status_code == 400
    assert _status(store, subscriber_id, "weekly") == "confirmed"


# --- preferences ------------------------------------------------------------------------


def _prefs_token(settings: Settings, subscriber_id: int) -> str:
    return subscriber_token(settings.signing_secret(), "preferences", subscriber_id, "weekly")


def test_preferences_show_current_choices(
    client: TestClient, web_settings: Settings, subscribed: tuple[int, str]
) -> None:
    subscriber_id, _ = subscribed
    html = client.get(f"/p/{_prefs_token(web_settings, subscriber_id)}").text
    assert "reader@example.org" in html
    assert 'value="weekly" checked' in html and 'value="states" checked' in html
    assert 'for="pause"' in html


def test_preferences_change_lists_and_pause(
    client: TestClient,
    web_settings: Settings,
    store: Store,
    clock: Clock,
    subscribed: tuple[int, str],
) -> None:
    subscriber_id, _ = subscribed
    token = _prefs_token(web_settings, subscriber_id)
    response = client.post(
        f"/p/{token}", data={"action": "save", "lists": ["states"], "pause": "2w"}
    )
    assert response.status_code == 303 and response.headers["location"] == f"/p/{token}?saved=yes"
    assert _status(store, subscriber_id, "weekly") == "unsubscribed"
    with store.session() as session:
        states = session.get(SubscriptionRow, (subscriber_id, "states"))
        assert states is not None and states.paused_until == clock.now + timedelta(weeks=2)
    page = client.get(response.headers["location"]).text
    assert "Your choices are saved" in page and "Paused until 04 December 2026" in page

    client.post(
        f"/p/{token}", data={"action": "save", "lists": ["states", "weekly"], "pause": "resume"}
    )
    assert _status(store, subscriber_id, "weekly") == "confirmed"
    with store.session() as session:
        assert session.get(SubscriptionRow, (subscriber_id, "states")).paused_until is None  # type: ignore[union-attr]
        rejoin = session.scalars(select(ConsentRow).where(ConsentRow.form == "preferences")).one()
        assert rejoin.list_name == "weekly" and rejoin.confirmed_at == clock.now


def test_preferences_unsubscribe_from_all(
    client: TestClient, web_settings: Settings, store: Store, subscribed: tuple[int, str]
) -> None:
    subscriber_id, _ = subscribed
    token = _prefs_token(web_settings, subscriber_id)
    response = client.post(f"/p/{token}", data={"action": "unsubscribe_all"})
    assert response.status_code == 303
    assert _status(store, subscriber_id, "weekly") == "unsubscribed"
    assert _status(store, subscriber_id, "states") == "unsubscribed"
    assert "unsubscribed from every newsletter" in client.get(response.headers["location"]).text


def test_preferences_refuse_bad_tokens_and_choices(
    client: TestClient, web_settings: Settings, subscribed: tuple[int, str]
) -> None:
    subscriber_id, unsubscribe_token = subscribed
    assert client.get(f"/p/{unsubscribe_token}").status_code == 400  # wrong purpose
    assert (
        client.post(f"/p/{unsubscribe_token}", data={"action": "unsubscribe_all"}).status_code
        == 400
    )
    token = _prefs_token(web_settings, subscriber_id)
    bad = client.post(f"/p/{token}", data={"action": "save", "lists": ["nope"]})
    assert bad.status_code == 400 and "unknown newsletter" in bad.text.lower()
