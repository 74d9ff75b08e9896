"""Double opt-in: ask, confirm, and change preferences later from the signed link.

A sign-up creates a *pending* subscription and a consent record (who, when, which form,
which consent text, IP, user agent: GDPR Art. 7(1)) and mails a confirmation link that
expires after 72 hours. Only confirming makes the subscription count. Nothing here tells
a caller whether an address was already known: the web form answers the same either way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from digest import urls
from digest.config import Settings
from digest.delivery.system import send_system_message, system_message
from digest.delivery.tokens import (
    CONFIRM_MAX_AGE,
    LEGACY_PREFERENCES_UNTIL,
    PREFERENCES_MAX_AGE,
    BadToken,
    make_token,
    read_token,
    read_token_issued,
    subscriber_token,
)
from digest.errors import DigestError
from digest.render import Renderer
from digest.render.templates import render
from digest.store import Store
from digest.store.tables import ConsentRow, SpentTokenRow, SubscriberRow, SubscriptionRow
from digest.subscribers import (
    add_subscriber,
    is_suppressed,
    normalize_email,
    subscribe,
    unsubscribe,
)

# A second confirmation mail to the same address within this window is not sent, so the
# form cannot be used to flood someone's inbox from many IP addresses.
RESEND_COOLDOWN = timedelta(minutes=10)
PAUSE_CHOICES = {"2w": timedelta(weeks=2), "1m": timedelta(days=30), "3m": timedelta(days=90)}


class SubscriptionError(DigestError):
    """A sign-up or preferences change that cannot be done (unknown newsletter, bad link)."""


@dataclass(frozen=True)
class SubscriptionRequest:
    email: str
    lists: tuple[str, ...]
    token: str | None  # the confirm token, None when no mail was sent
    sent: bool


@dataclass(frozen=True)
class Confirmation:
    subscriber_id: int
    email: str
    lists: tuple[str, ...]


@dataclass(frozen=True)
class Preferences:
    subscriber_id: int
    email: str
    name: str | None
    confirmed: frozenset[str]  # list names with a confirmed subscription
    paused_until: datetime | None
    suppressed: bool


def consent_version(text: str) -> str:
    """The consent text's version is its own fingerprint: a reworded text gets a new one."""
    return "sha256:" + hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


def newsletter_lists(settings: Settings) -> dict[str, str]:
    """Subscribable list name → the title people see."""
    lists: dict[str, str] = {}
    for name, newsletter in settings.newsletters.items():
        lists.setdefault(settings.audience_of(name), newsletter.title)
    return lists


def _check_lists(settings: Settings, lists: tuple[str, ...]) -> tuple[str, ...]:
    known = newsletter_lists(settings)
    unknown = [name for name in lists if name not in known]
    if unknown:
        raise SubscriptionError(f"unknown newsletter: {', '.join(unknown)}")
    if not lists:
        raise SubscriptionError("choose at least one newsletter")
    return tuple(dict.fromkeys(lists))


def check_subscription_request(
    settings: Settings, email: str, lists: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """What can be said about a sign-up at once, the same for every address: is it an
    address, are these newsletters. Raises InvalidAddress or SubscriptionError."""
    return normalize_email(email), _check_lists(settings, lists)


def request_subscription(
    settings: Settings,
    store: Store,
    *,
    email: str,
    name: str | None,
    lists: tuple[str, ...],
    form: str,
    consent_text_version: str,
    ip: str | None,
    user_agent: str | None,
    now: datetime,
    renderer: Renderer | None = None,
) -> SubscriptionRequest:
    """Record a pending subscription and its consent, and mail the confirmation link.

    Raises InvalidAddress for a malformed address and SubscriptionError for unknown
    lists. A suppressed address gets no mail and no new subscription; an address that
    asked within the cooldown gets no second mail. Callers answer the same in all cases.
    """
    address = normalize_email(email)
    wanted = _check_lists(settings, lists)
    clean_name = (name or "").strip()[:300] or None
    with store.session() as session:
        if is_suppressed(session, address):
            return SubscriptionRequest(address, wanted, None, sent=False)
        recently_asked = _asked_recently(session, address, now)
        known = session.scalars(select(SubscriberRow.id).where(SubscriberRow.email == address))
        # an unconfirmed form must not rename someone who is already on file
        new_name = None if known.first() is not None else clean_name
        row = add_subscriber(session, address, now, name=new_name, lists=wanted, status="pending")
        consent_ids = []
        for list_name in wanted:
            consent = ConsentRow(
                subscriber_id=row.id,
                list_name=list_name,
                form=form,
                text_version=consent_text_version,
                ip=ip,
                user_agent=(user_agent or "")[:1000] or None,
                created_at=now,
            )
            session.add(consent)
            session.flush()
            consent_ids.append(consent.id)
        subscriber_id = row.id
    if recently_asked:
        return SubscriptionRequest(address, wanted, None, sent=False)
    token = make_token(
        settings.signing_keys(),
        "confirm",
        {"s": subscriber_id, "l": list(wanted), "c": consent_ids},
    )
    send_confirmation(settings, address, clean_name, wanted, token, now, renderer)
    return SubscriptionRequest(address, wanted, token, sent=True)


def _asked_recently(session: Session, address: str, now: datetime) -> bool:
    query = (
        select(ConsentRow.id)
        .join(SubscriberRow, SubscriberRow.id == ConsentRow.subscriber_id)
        .where(SubscriberRow.email == address, ConsentRow.created_at > now - RESEND_COOLDOWN)
    )
    return session.scalars(query).first() is not None


def confirm_subscription(
    settings: Settings, store: Store, token: str, now: datetime
) -> Confirmation:
    """Confirm the lists named in a confirm token; BadToken when forged or older than 72 h.

    A confirm link works once: a second click while still subscribed is harmless, but a
    replay after the person unsubscribed is refused (BadToken "already used"), so an old
    link cannot sign them up again. A suppressed address stays unsubscribed.
    """
    payload = read_token(settings.signing_keys(), "confirm", token)
    subscriber_id, lists, consent_ids = _confirm_payload(payload)
    with store.session() as session:
        subscriber = session.get(SubscriberRow, subscriber_id)
        if subscriber is None:
            raise BadToken("this link is not valid")
        if is_suppressed(session, subscriber.email):
            return Confirmation(subscriber_id, subscriber.email, ())
        if _spend_confirm(session, token, subscriber.email, now):
            if all(_is_confirmed(session, subscriber_id, name) for name in lists):
                return Confirmation(subscriber_id, subscriber.email, lists)
            raise BadToken("this link was already used")
        for list_name in lists:
            subscribe(session, subscriber_id, list_name, now, status="confirmed")
        for consent in session.scalars(select(ConsentRow).where(ConsentRow.id.in_(consent_ids))):
            if consent.subscriber_id == subscriber_id and consent.confirmed_at is None:
                consent.confirmed_at = now
        if subscriber.status == "unsubscribed":  # a new, confirmed wish overrides an old leave
            subscriber.status = "active"
        subscriber.updated_at = now
        return Confirmation(subscriber_id, subscriber.email, lists)


def confirm_spent_key(token: str) -> str:
    return hashlib.sha256(f"confirm:{token}".encode()).hexdigest()


def _spend_confirm(session: Session, token: str, email: str, now: datetime) -> bool:
    """Mark the link used; True if it already was."""
    key = confirm_spent_key(token)
    if session.get(SpentTokenRow, key) is not None:
        return True
    # a link older than its 72 hours is refused anyway: its record is no longer needed
    session.execute(
        delete(SpentTokenRow).where(
            SpentTokenRow.purpose == "confirm",
            SpentTokenRow.spent_at < now - CONFIRM_MAX_AGE - timedelta(hours=1),
        )
    )
    session.add(SpentTokenRow(token_hash=key, purpose="confirm", spent_at=now, spent_by=email))
    return False


def confirm_link_used(store: Store, token: str) -> bool:
    with store.session() as session:
        return session.get(SpentTokenRow, confirm_spent_key(token)) is not None


def _is_confirmed(session: Session, subscriber_id: int, list_name: str) -> bool:
    row = session.get(SubscriptionRow, (subscriber_id, list_name))
    return row is not None and row.status == "confirmed"


def _confirm_payload(payload: dict[str, Any]) -> tuple[int, tuple[str, ...], list[int]]:
    try:
        subscriber_id = int(payload["s"])
        lists = tuple(str(name) for name in payload["l"])
        consent_ids = [int(c) for c in payload.get("c", [])]
    except (KeyError, TypeError, ValueError):
        raise BadToken("this link is not valid") from None
    return subscriber_id, lists, consent_ids


def read_subscriber_token(settings: Settings, purpose: str, token: str) -> tuple[int, str]:
    """(subscriber id, list name) from an unsubscribe or preferences token, or BadToken.

    Preferences links expire (digest.delivery.tokens.PREFERENCES_MAX_AGE); unsubscribe
    links never do.
    """
    subscriber_id, list_name, _ = read_subscriber_token_issued(settings, purpose, token)
    return subscriber_id, list_name


def read_subscriber_token_issued(
    settings: Settings, purpose: str, token: str
) -> tuple[int, str, datetime | None]:
    """Like read_subscriber_token, plus when the token was signed (None: before timestamps)."""
    if purpose not in ("unsubscribe", "preferences"):
        raise ValueError(purpose)
    payload, issued = read_token_issued(settings.signing_keys(), purpose, token)  # type: ignore[arg-type]
    try:
        return int(payload["s"]), str(payload["l"]), issued
    except (KeyError, TypeError, ValueError):
        raise BadToken("this link is not valid") from None


def may_offer_preferences(settings: Settings, unsubscribe_token: str) -> bool:
    """An unsubscribe link offers a preferences link only while a preferences link mailed
    with it would still work: an old email must not mint fresh preferences links."""
    try:
        _, issued = read_token_issued(
            settings.signing_keys(), "unsubscribe", unsubscribe_token, PREFERENCES_MAX_AGE
        )
    except BadToken:
        return False
    return issued is not None or datetime.now(UTC) <= LEGACY_PREFERENCES_UNTIL


def one_click_unsubscribe(
    settings: Settings, store: Store, token: str, now: datetime
) -> tuple[str, int]:
    """RFC 8058: unsubscribe the token's subscriber from its list; idempotent.

    Returns (list name, how many subscriptions changed). A subscriber who no longer
    exists is already unsubscribed, so that is not an error.
    """
    subscriber_id, list_name = read_subscriber_token(settings, "unsubscribe", token)
    with store.session() as session:
        changed = unsubscribe(session, subscriber_id, list_name, now)
    return list_name, changed


def load_preferences(store: Store, subscriber_id: int) -> Preferences | None:
    with store.session() as session:
        subscriber = session.get(SubscriberRow, subscriber_id)
        if subscriber is None:
            return None
        subs = session.scalars(
            select(SubscriptionRow).where(SubscriptionRow.subscriber_id == subscriber_id)
        ).all()
        paused = [s.paused_until for s in subs if s.status == "confirmed" and s.paused_until]
        return Preferences(
            subscriber_id=subscriber_id,
            email=subscriber.email,
            name=subscriber.name,
            confirmed=frozenset(s.list_name for s in subs if s.status == "confirmed"),
            paused_until=max(paused) if paused else None,
            suppressed=is_suppressed(session, subscriber.email),
        )


def update_preferences(
    settings: Settings,
    store: Store,
    subscriber_id: int,
    *,
    lists: tuple[str, ...],
    pause: str | None,
    now: datetime,
    ip: str | None = None,
    user_agent: str | None = None,
    consent_text_version: str = "",
) -> Preferences:
    """Keep exactly ``lists``; pause every kept subscription for a while or resume it.

    The subscriber proved they own the address by following the signed link from their
    email, so a newly ticked newsletter is confirmed at once (with its consent record).
    """
    wanted = set(lists)
    known = newsletter_lists(settings)
    if unknown := wanted - set(known):
        raise SubscriptionError(f"unknown newsletter: {', '.join(sorted(unknown))}")
    if pause not in (None, "", "resume", *PAUSE_CHOICES):
        raise SubscriptionError(f"unknown pause choice '{pause}'")
    with store.session() as session:
        subscriber = session.get(SubscriberRow, subscriber_id)
        if subscriber is None:
            raise SubscriptionError("this subscriber no longer exists")
        suppressed = is_suppressed(session, subscriber.email)
        for list_name in known:
            if list_name in wanted and not suppressed:
                _keep(session, subscriber_id, list_name, now, ip, user_agent, consent_text_version)
            elif list_name not in wanted:
                unsubscribe(session, subscriber_id, list_name, now)
        _apply_pause(session, subscriber_id, pause, now)
    prefs = load_preferences(store, subscriber_id)
    assert prefs is not None
    return prefs


def _keep(
    session: Session,
    subscriber_id: int,
    list_name: str,
    now: datetime,
    ip: str | None,
    user_agent: str | None,
    consent_text_version: str,
) -> None:
    existing = session.get(SubscriptionRow, (subscriber_id, list_name))
    if existing is not None and existing.status == "confirmed":
        return
    subscribe(session, subscriber_id, list_name, now, status="confirmed")
    session.add(
        ConsentRow(
            subscriber_id=subscriber_id,
            list_name=list_name,
            form="preferences",
            text_version=consent_text_version,
            ip=ip,
            user_agent=(user_agent or "")[:1000] or None,
            created_at=now,
            confirmed_at=now,
        )
    )


def _apply_pause(session: Session, subscriber_id: int, pause: str | None, now: datetime) -> None:
    if not pause:
        return
    until = None if pause == "resume" else now + PAUSE_CHOICES[pause]
    query = select(SubscriptionRow).where(
        SubscriptionRow.subscriber_id == subscriber_id, SubscriptionRow.status == "confirmed"
    )
    for sub in session.scalars(query):
        sub.paused_until = until


def unsubscribe_all(store: Store, subscriber_id: int, now: datetime) -> int:
    """Leave every newsletter (GDPR Art. 7(3): as easy as joining)."""
    with store.session() as session:
        return unsubscribe(session, subscriber_id, None, now)


def preferences_token(settings: Settings, subscriber_id: int, list_name: str) -> str:
    return subscriber_token(settings.signing_keys(), "preferences", subscriber_id, list_name)


# --- mail -------------------------------------------------------------------------------


def send_confirmation(
    settings: Settings,
    address: str,
    name: str | None,
    lists: tuple[str, ...],
    token: str,
    now: datetime,
    renderer: Renderer | None = None,
) -> None:
    """``renderer``: the caller's (the web app's one); made here when not given."""
    renderer = renderer or Renderer(settings)
    titles = newsletter_lists(settings)
    context = {
        "name": name,
        "newsletters": [titles[n] for n in lists],
        "confirm_url": urls.confirm_url(settings, token),
        "expires_hours": 72,
    }
    message = system_message(
        settings,
        to=address,
        subject=f"Please confirm your subscription to {settings.organization.name}",
        text=render(renderer.env, "web/mail/confirm.txt.j2", context),
        html=render(renderer.env, "web/mail/confirm.html.j2", context),
        now=now,
    )
    deliver_message(settings, message, lists[0])


def deliver_message(settings: Settings, message: EmailMessage, list_name: str) -> None:
    """Send a system message through the email channel of the list's newsletter."""
    newsletter = next(
        (n for n in settings.newsletters if settings.audience_of(n) == list_name), list_name
    )
    send_system_message(settings, message, newsletter=newsletter)
