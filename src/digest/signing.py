"""The signing keys: the current one, older ones still honoured, and the demo stand-in.

Every token and cookie digest signs starts with the id of the key that signed it
(``k`` + 8 hex digits of a hash of the key, or ``demo``), so a key can be rotated: the
new key signs, and links signed by a key listed in ``signing_keys_old`` keep working
until that key is dropped from the list.

Without a configured key the *demo key* is used, derived from the site URL and so known
to anyone. It exists only so `digest demo` and a first look work; the commands that serve,
send, post or read bounces refuse to run with it (:func:`require_real_key`), and a token
signed by it is never accepted once a real key is configured.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field

from digest.errors import DigestError

DEMO_KEY_ID = "demo"
MIN_KEY_LENGTH = 16
KEY_ID = re.compile(r"^(k[0-9a-f]{8}|demo)$")
MAKE_KEY_HINT = (
    "make one with 'digest web make-key' and put it in the environment variable that "
    "signing_key names (config.yaml: signing_key: ${DIGEST_SIGNING_KEY})"
)


class DemoKeyRefused(DigestError):
    """A command that faces real people was started without a real signing key."""


def key_id(secret: str) -> str:
    """A short, stable, non-secret name for a key (a hash of it; the key is not derivable)."""
    return "k" + hashlib.sha256(b"digest-key-id:" + secret.encode("utf-8")).hexdigest()[:8]


def new_key() -> str:
    """A fresh random key: 256 bits, URL-safe text."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class SigningKeys:
    """The key that signs now, plus the keys whose signatures are still honoured."""

    current: str
    old: tuple[str, ...] = ()
    is_demo: bool = False
    current_id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "current_id", DEMO_KEY_ID if self.is_demo else key_id(self.current)
        )

    @classmethod
    def demo(cls, site_url: str) -> SigningKeys:
        return cls("digest-insecure-demo-key:" + site_url, is_demo=True)

    def for_id(self, kid: str) -> str | None:
        """The key a token names, or None if it is not one we honour."""
        if kid == self.current_id:
            return self.current
        if kid == DEMO_KEY_ID:  # the demo key is honoured only while it is the current key
            return None
        for secret in self.old:
            if key_id(secret) == kid:
                return secret
        return None

    def verifying(self) -> tuple[str, ...]:
        """Every key whose signature is honoured, the current one first."""
        return (self.current, *self.old)


def as_keys(keys: str | SigningKeys) -> SigningKeys:
    """A bare secret (as older callers pass) is a ring of one key."""
    return keys if isinstance(keys, SigningKeys) else SigningKeys(keys)


def split_key_id(token: str) -> tuple[str | None, str]:
    """(key id, the signed rest); key id None for a token made before keys had ids."""
    head, sep, rest = token.partition(".")
    if sep and KEY_ID.match(head):
        return head, rest
    return None, token


def parse_old_keys(value: str) -> tuple[str, ...]:
    """Old keys as written in their environment variable: separated by commas or spaces."""
    return tuple(part for part in re.split(r"[\s,]+", value) if part)


def require_real_key(keys: SigningKeys, command: str, variable: str | None) -> None:
    """Refuse to run ``command`` with the demo key (or a key too short to be one)."""
    name = variable or "signing_key"
    if keys.is_demo:
        raise DemoKeyRefused(
            f"'digest {command}' refuses to run: {name} is not set, so links, cookies and "
            f"staff sign-ins would be signed with the public demo key. A key is needed: "
            f"{MAKE_KEY_HINT}"
        )
    if len(keys.current) < MIN_KEY_LENGTH:
        raise DemoKeyRefused(
            f"'digest {command}' refuses to run: {name} is shorter than {MIN_KEY_LENGTH} "
            f"characters, too easy to guess; {MAKE_KEY_HINT}"
        )


def key_problems(keys: SigningKeys, variable: str | None) -> list[str]:
    """What check-config says about the key (empty when it is fine)."""
    try:
        require_real_key(keys, "serve", variable)
    except DemoKeyRefused as exc:
        text = str(exc).split(": ", 1)[1]
        return [f"signing_key: {text}; serve, send, schedule, post, run and bounces refuse to run"]
    return []
