"""Signed tokens for links in email: unforgeable, with a salt per purpose.

Every token starts with the id of the key that signed it (``k1a2b3c4d.``; see
digest.signing), then an itsdangerous timestamped token. Ages:

- confirm: 72 hours; approve: until the send time plus grace (the caller says);
- preferences: PREFERENCES_MAX_AGE (the page shows the address and changes the
  subscription, so an old forwarded email must not keep that power for ever);
- unsubscribe: never expires (links must keep working for at least 30 days, and old
  emails are read much later), though its age decides whether the page offers a
  preferences link.

Tokens made before keys had ids (no prefix, unsubscribe and preferences untimed) are
still read, with the current and old keys, never the demo key once a real one is set;
untimed preferences links are honoured until LEGACY_PREFERENCES_UNTIL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

from digest.errors import DigestError
from digest.signing import SigningKeys, as_keys, split_key_id

Purpose = Literal["unsubscribe", "preferences", "confirm", "approve"]
CONFIRM_MAX_AGE = timedelta(hours=72)
PREFERENCES_MAX_AGE = timedelta(days=180)
# Preferences links mailed before they carried a timestamp: honoured until then.
LEGACY_PREFERENCES_UNTIL = datetime(2027, 6, 1, tzinfo=UTC)
DEFAULT_MAX_AGE: dict[str, timedelta | None] = {
    "confirm": CONFIRM_MAX_AGE,
    "approve": CONFIRM_MAX_AGE,
    "preferences": PREFERENCES_MAX_AGE,
    "unsubscribe": None,
}

Keys = str | SigningKeys


class BadToken(DigestError):
    """The token was tampered with, is for another purpose, or has expired."""


def _timed(secret: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"digest.{purpose}")


def make_token(keys: Keys, purpose: Purpose, payload: dict[str, Any]) -> str:
    """A token for ``purpose`` signed by the current key, naming that key."""
    ring = as_keys(keys)
    return f"{ring.current_id}.{_timed(ring.current, purpose).dumps(payload)}"


def read_token(
    keys: Keys, purpose: Purpose, token: str, max_age: timedelta | None = None
) -> dict[str, Any]:
    """Return the payload or raise BadToken; ``max_age`` overrides the purpose's age."""
    return read_token_issued(keys, purpose, token, max_age)[0]


def read_token_issued(
    keys: Keys, purpose: Purpose, token: str, max_age: timedelta | None = None
) -> tuple[dict[str, Any], datetime | None]:
    """(payload, when it was signed); the time is None for an untimed older token."""
    ring = as_keys(keys)
    age = max_age or DEFAULT_MAX_AGE[purpose]
    kid, signed = split_key_id(token)
    if kid is not None:
        secret = ring.for_id(kid)
        if secret is None:
            raise BadToken("this link is not valid")
        return _check(_load_timed(secret, purpose, signed, age))
    for secret in ring.verifying():  # a token from before keys had ids
        try:
            return _check(_load_legacy(secret, purpose, token, age))
        except BadToken as exc:
            if "expired" in str(exc):
                raise
    raise BadToken("this link is not valid")


def _check(
    result: tuple[Any, datetime | None],
) -> tuple[dict[str, Any], datetime | None]:
    data, issued = result
    if not isinstance(data, dict):
        raise BadToken("this link is not valid")
    return data, issued


def _load_timed(
    secret: str, purpose: str, token: str, age: timedelta | None
) -> tuple[Any, datetime | None]:
    seconds = int(age.total_seconds()) if age is not None else None
    try:
        data, issued = _timed(secret, purpose).loads(token, max_age=seconds, return_timestamp=True)
    except SignatureExpired:
        raise BadToken("this link has expired") from None
    except BadSignature:
        raise BadToken("this link is not valid") from None
    return data, issued


def _load_legacy(
    secret: str, purpose: str, token: str, age: timedelta | None
) -> tuple[Any, datetime | None]:
    if purpose in ("confirm", "approve"):
        return _load_timed(secret, purpose, token, age)
    try:
        data = URLSafeSerializer(secret, salt=f"digest.{purpose}").loads(token)
    except BadSignature:
        raise BadToken("this link is not valid") from None
    if purpose == "preferences" and datetime.now(UTC) > LEGACY_PREFERENCES_UNTIL:
        raise BadToken("this link has expired")
    return data, None


def subscriber_token(keys: Keys, purpose: Purpose, subscriber_id: int, list_name: str) -> str:
    """Token naming one subscriber on one list (unsubscribe, preferences)."""
    return make_token(keys, purpose, {"s": subscriber_id, "l": list_name})


def _int_to_bytes(number: int) -> bytes:
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


class _FixedTimeSigner(TimestampSigner):
    """itsdangerous's signer at one given time: the reference the fast path is checked against."""

    fixed_time = 0

    def get_timestamp(self) -> int:
        return self.fixed_time


class SubscriberTokens:
    """``subscriber_token`` for many subscribers: the same tokens, serializers built once.

    All tokens of one batch carry the time the batch started (one send), so the
    timestamp part is encoded once.
    """

    def __init__(self, keys: Keys, purpose: Purpose, *, issued: int | None = None) -> None:
        if purpose not in ("unsubscribe", "preferences"):
            raise ValueError("only subscriber tokens are made in batches")
        ring = as_keys(keys)
        self._prefix = f"{ring.current_id}."
        self._serializer = _timed(ring.current, purpose)
        signer = self._serializer.make_signer()
        # itsdangerous derives the key and builds an HMAC on every dumps(); here the key
        # is derived once and a keyed SHA-1 HMAC copied per token (same bytes out)
        self._mac = hmac.new(signer.derive_key(), digestmod="sha1")
        self._sep = signer.sep
        self._issued = int(time.time()) if issued is None else issued
        self._stamp = self._sep + _b64(_int_to_bytes(self._issued))
        self._tails: dict[str, bytes] = {}
        self._fast = self._fast_matches_itsdangerous(ring.current, purpose)

    def __call__(self, subscriber_id: int, list_name: str) -> str:
        if not self._fast or type(subscriber_id) is not int:
            return self._prefix + self._reference(subscriber_id, list_name)
        return self._prefix + self._sign(subscriber_id, list_name)

    def _reference(self, subscriber_id: int, list_name: str) -> str:
        return str(self._reference_serializer.dumps({"s": subscriber_id, "l": list_name}))

    def _sign(self, subscriber_id: int, list_name: str) -> str:
        tail = self._tails.get(list_name)
        if tail is None:
            quoted = json.dumps(list_name, ensure_ascii=False)
            tail = self._tails[list_name] = f',"l":{quoted}}}'.encode()
        payload = b'{"s":%d' % subscriber_id + tail  # what itsdangerous's compact JSON gives
        # itsdangerous would try zlib (~10 µs) and keep it only if shorter, which a short
        # payload like this never is unless the list name repeats itself; the plain form
        # is read back the same, so it is always used
        value = _b64(payload) + self._stamp
        mac = self._mac.copy()
        mac.update(value)
        return (value + self._sep + _b64(mac.digest())).decode("ascii")

    def _fast_matches_itsdangerous(self, secret: str, purpose: str) -> bool:
        """The shortcut is used only if it gives itsdangerous's own tokens (SHA-1 HMAC)."""
        signer = type("_BatchSigner", (_FixedTimeSigner,), {"fixed_time": self._issued})
        self._reference_serializer = URLSafeTimedSerializer(
            secret, salt=f"digest.{purpose}", signer=signer
        )
        probes = ((1, "weekly"), (1234567, "in-the-states"), (7, "é-weekly"))
        return all(self._sign(sid, name) == self._reference(sid, name) for sid, name in probes)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


# ``E.S.SIG`` inside an address's local part, e.g. bounces+12.345.0123456789@example.org
VERP_TOKEN = re.compile(r"(?<![\w.])(\d{1,18})\.(\d{1,18})\.([0-9a-f]{10})(?![\w.])", re.I)


def _verp_signature(secret: str, edition_id: int, subscriber_id: int) -> str:
    body = f"verp:{edition_id}.{subscriber_id}".encode()
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()[:10]


def verp_token(secret: str, edition_id: int, subscriber_id: int) -> str:
    """``E.S.SIG``: names one delivery in a bounce address and cannot be forged."""
    return f"{edition_id}.{subscriber_id}.{_verp_signature(secret, edition_id, subscriber_id)}"


def find_verp_token(secret: Keys, address: str) -> tuple[int, int] | None:
    """(edition, subscriber) from a VERP address's local part when its signature holds.

    The current key and every old one are tried: bounces arrive days after a send.
    """
    local = address.rsplit("@", 1)[0]
    for match in VERP_TOKEN.finditer(local):
        edition_id, subscriber_id = int(match.group(1)), int(match.group(2))
        for key in as_keys(secret).verifying():
            expected = _verp_signature(key, edition_id, subscriber_id)
            if hmac.compare_digest(expected, match.group(3).lower()):
                return edition_id, subscriber_id
    return None
