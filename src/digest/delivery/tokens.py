"""Signed tokens for links in email: unforgeable, with a salt per purpose.

Unsubscribe and preferences tokens never expire (links must keep working for at least
30 days, and old emails are read much later); confirmation tokens expire.
"""

from __future__ import annotations

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

    def __call__(self, subscriber_id: int, list_name: str) -> str:
        return str(self._serializer.dumps({"s": subscriber_id, "l": list_name}))
