"""Staff passwords and the staff session cookie.

Password hashes use scrypt (hashlib, RFC 7914) in one self-describing, shell-safe line:

    scrypt:<n>:<r>:<p>:<salt, base64url>:<hash, base64url>

`digest web hash-password` prints one; put it in the environment variable that
``web.staff_password_hash`` names (e.g. ``${DIGEST_STAFF_PASSWORD_HASH}``).

The session cookie is signed and timestamped; it holds a CSRF token for the forms and
the id of a server-side session (digest.web.users), so signing out or a new password
ends the session on the server, not only in the browser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from digest.config import Settings
from digest.signing import SigningKeys, as_keys, split_key_id

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SESSION_COOKIE = "digest_staff"
HASH_FORMAT = "scrypt:<n>:<r>:<p>:<salt>:<hash> (make one with 'digest web hash-password')"
SESSION_MAX_AGE = timedelta(hours=12)


class PasswordHashError(ValueError):
    """The configured hash is not in the documented format."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * n * r + 2**20
    )


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    if not password:
        raise ValueError("the password must not be empty")
    salt = secrets.token_bytes(16)
    return f"scrypt:{n}:{r}:{p}:{_b64(salt)}:{_b64(_scrypt(password, salt, n, r, p))}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches; PasswordHashError when ``encoded`` is malformed."""
    parts = encoded.strip().split(":")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise PasswordHashError(f"staff password hash is not in the form {HASH_FORMAT}")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
        actual = _scrypt(password, salt, n, r, p)
    except ValueError:  # bad numbers or base64, or parameters scrypt refuses
        raise PasswordHashError(
            f"staff password hash has unreadable parameters (expected {HASH_FORMAT})"
        ) from None
    return hmac.compare_digest(actual, expected)


def configured_hash(settings: Settings) -> str | None:
    """The staff password hash from the environment, or None when none is configured."""
    ref = settings.web.staff_password_hash
    if ref is None or not ref.is_set():
        return None
    value = ref.resolve().strip()
    return value or None


@dataclass(frozen=True)
class StaffSession:
    """The desk cookie's meaning: a CSRF token, and who is signed in (server-side)."""

    csrf: str
    user: str | None = None  # the signed-in staff member's email address
    session_id: str | None = None  # names the server-side row (digest.web.users)
    role: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.user is not None


def new_session(user: str | None = None) -> StaffSession:
    return StaffSession(csrf=secrets.token_urlsafe(32), user=user)


class SessionCodec:
    """Signs and reads the session cookie (salted apart from the email tokens).

    The cookie names the key that signed it (``<key id>.<signed data>``), so a rotated
    key keeps old cookies readable while it is listed in ``signing_keys_old``. It holds
    the CSRF token and the server-side session's id; who that is lives in the store.
    """

    SALT = "digest.staff-session"

    def __init__(self, keys: str | SigningKeys) -> None:
        self._keys = as_keys(keys)

    def _serializer(self, secret: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(secret, salt=self.SALT)

    def dumps(self, session: StaffSession) -> str:
        signed = self._serializer(self._keys.current).dumps(
            {"c": session.csrf, "s": session.session_id}
        )
        return f"{self._keys.current_id}.{signed}"

    def loads(self, cookie: str | None) -> StaffSession | None:
        """The cookie's CSRF token and session id; who is signed in is not decided here."""
        if not cookie:
            return None
        kid, signed = split_key_id(cookie)
        secret = self._keys.for_id(kid) if kid is not None else None
        if secret is None:
            return None
        try:
            data: Any = self._serializer(secret).loads(
                signed, max_age=int(SESSION_MAX_AGE.total_seconds())
            )
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        session_id = data.get("s")
        return StaffSession(
            csrf=data["c"], session_id=session_id if isinstance(session_id, str) else None
        )


def csrf_matches(session: StaffSession | None, submitted: str | None) -> bool:
    """The form's token must equal the one in the signed session cookie."""
    if session is None or not submitted:
        return False
    return hmac.compare_digest(session.csrf.encode(), submitted.encode())
