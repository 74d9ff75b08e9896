"""Signed tokens for links in email: unforgeable, with a salt per purpose.

Unsubscribe and preferences tokens never expire (links must keep working for at least
30 days, and old emails are read much later); confirmation tokens expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import timedelta
from typing import Any, Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from digest.errors import DigestError

Purpose = Literal["unsubscribe", "preferences", "confirm", "approve"]
CONFIRM_MAX_AGE = timedelta(hours=72)


class BadToken(DigestError):
    """The token was tampered with, is for another purpose, or has expired."""


def make_token(secret: str, purpose: Purpose, payload: dict[str, Any]) -> str:
    if purpose in ("confirm", "approve"):
        return str(URLSafeTimedSerializer(secret, salt=f"digest.{purpose}").dumps(payload))
    return str(URLSafeSerializer(secret, salt=f"digest.{purpose}").dumps(payload))


def read_token(
    secret: str, purpose: Purpose, token: str, max_age: timedelta | None = None
) -> dict[str, Any]:
    """Return the payload or raise BadToken; timed purposes check ``max_age``."""
    try:
        if purpose in ("confirm", "approve"):
            age = max_age or CONFIRM_MAX_AGE
            data = URLSafeTimedSerializer(secret, salt=f"digest.{purpose}").loads(
                token, max_age=int(age.total_seconds())
            )
        else:
            data = URLSafeSerializer(secret, salt=f"digest.{purpose}").loads(token)
    except SignatureExpired:
        raise BadToken("this link has expired") from None
    except BadSignature:
        raise BadToken("this link is not valid") from None
    if not isinstance(data, dict):
        raise BadToken("this link is not valid")
    return data


def subscriber_token(secret: str, purpose: Purpose, subscriber_id: int, list_name: str) -> str:
    """Token naming one subscriber on one list (unsubscribe, preferences)."""
    return make_token(secret, purpose, {"s": subscriber_id, "l": list_name})


class SubscriberTokens:
    """``subscriber_token`` for many subscribers: the same tokens, serializers built once."""

    def __init__(self, secret: str, purpose: Purpose) -> None:
        if purpose in ("confirm", "approve"):
            raise ValueError("timed tokens are made one at a time with make_token")
        self._serializer = URLSafeSerializer(secret, salt=f"digest.{purpose}")
        signer = self._serializer.make_signer()
        # itsdangerous derives the key and builds an HMAC on every dumps(); here the key
        # is derived once and a keyed SHA-1 HMAC copied per token (same bytes out)
        self._mac = hmac.new(signer.derive_key(), digestmod="sha1")
        self._sep = signer.sep
        self._tails: dict[str, bytes] = {}
        self._fast = self._fast_matches_itsdangerous()

    def __call__(self, subscriber_id: int, list_name: str) -> str:
        if not self._fast or type(subscriber_id) is not int:
            return str(self._serializer.dumps({"s": subscriber_id, "l": list_name}))
        return self._sign(subscriber_id, list_name)

    def _sign(self, subscriber_id: int, list_name: str) -> str:
        tail = self._tails.get(list_name)
        if tail is None:
            quoted = json.dumps(list_name, ensure_ascii=False)
            tail = self._tails[list_name] = f',"l":{quoted}}}'.encode()
        payload = b'{"s":%d' % subscriber_id + tail  # what itsdangerous's compact JSON gives
        # itsdangerous would try zlib (~10 µs) and keep it only if shorter, which a short
        # payload like this never is unless the list name repeats itself; the plain form
        # is read back the same, so it is always used
        value = _b64(payload)
        mac = self._mac.copy()
        mac.update(value)
        return (value + self._sep + _b64(mac.digest())).decode("ascii")

    def _fast_matches_itsdangerous(self) -> bool:
        """The shortcut is used only if it gives itsdangerous's own tokens (SHA-1 HMAC)."""
        probes = ((1, "weekly"), (1234567, "in-the-states"), (7, "é-weekly"))
        return all(
            self._sign(sid, name) == self._serializer.dumps({"s": sid, "l": name})
            for sid, name in probes
        )


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


def find_verp_token(secret: str, address: str) -> tuple[int, int] | None:
    """(edition, subscriber) from a VERP address's local part when its signature holds."""
    local = address.rsplit("@", 1)[0]
    for match in VERP_TOKEN.finditer(local):
        edition_id, subscriber_id = int(match.group(1)), int(match.group(2))
        expected = _verp_signature(secret, edition_id, subscriber_id)
        if hmac.compare_digest(expected, match.group(3).lower()):
            return edition_id, subscriber_id
    return None
