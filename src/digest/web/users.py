"""Staff accounts, their roles, and server-side desk sessions.

Roles, each able to do what the one before can:

- **editor**: sign in, edit drafts, send test copies to themselves;
- **publisher**: also approve, hold and send now;
- **admin**: also manage staff accounts.

Accounts live in ``staff_users`` (scrypt hashes, see digest.web.auth) and are managed with
``digest web add-user / set-password / remove-user``. The password hash in the environment
(``web.staff_password_hash``) keeps working as a *bootstrap admin*: it signs in any address
that has no account of its own, so a new deployment can be opened before anyone is added.

Sessions are rows in ``staff_sessions`` named by the hash of a random id the cookie
carries: signing out deletes the row, and a new password ends every session of that
person (each row remembers a fingerprint of the password hash it was opened with, so a
change of the bootstrap hash in the environment ends those sessions too).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from sqlalchemy import delete, select

from digest.config import Settings
from digest.errors import DigestError
from digest.store import Store
from digest.store.tables import StaffSessionRow, StaffUserRow
from digest.subscribers import InvalidAddress, normalize_email
from digest.web.auth import configured_hash, hash_password, verify_password

Role = Literal["editor", "publisher", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
Permission = Literal["edit", "test", "approve", "hold", "send", "users"]
# the least role that may do each thing
PERMISSIONS: dict[Permission, Role] = {
    "edit": "editor",
    "test": "editor",
    "approve": "publisher",
    "hold": "publisher",
    "send": "publisher",
    "users": "admin",
}
SESSION_LIFETIME = timedelta(hours=12)


class StaffAccountError(DigestError):
    """A staff account cannot be added, changed or removed as asked."""


@dataclass(frozen=True)
class StaffUser:
    """Who is signed in: the actor every desk action is recorded under."""

    email: str
    role: Role
    bootstrap: bool = False  # signed in with the environment's password hash

    def can(self, permission: Permission) -> bool:
        return ROLES.index(self.role) >= ROLES.index(PERMISSIONS[permission])


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise StaffAccountError(f"unknown role '{role}' (choose one of: {', '.join(ROLES)})")
    return role


def _address(email: str) -> str:
    try:
        return normalize_email(email)
    except InvalidAddress as exc:
        raise StaffAccountError(f"'{email}' is not an email address: {exc}") from None


def password_stamp(encoded_hash: str) -> str:
    """A fingerprint of a password hash (not of the password): changes when it changes."""
    return hashlib.sha256(encoded_hash.strip().encode()).hexdigest()[:32]


# --- accounts ---------------------------------------------------------------------------


def add_user(store: Store, email: str, password_hash: str, role: str, now: datetime) -> StaffUser:
    address, checked = _address(email), check_role(role)
    with store.session() as session:
        if session.scalar(select(StaffUserRow.id).where(StaffUserRow.email == address)):
            raise StaffAccountError(
                f"{address} already has an account; use 'digest web set-password' to change it"
            )
        session.add(
            StaffUserRow(
                email=address,
                password_hash=password_hash,
                role=checked,
                created_at=now,
                updated_at=now,
            )
        )
        # a bootstrap session under this address ends: the account's password rules now
        session.execute(delete(StaffSessionRow).where(StaffSessionRow.email == address))
    return StaffUser(address, checked)


def _account(store: Store, email: str) -> StaffUserRow:
    address = _address(email)
    with store.session() as session:
        row = session.scalar(select(StaffUserRow).where(StaffUserRow.email == address))
        if row is None:
            known = ", ".join(session.scalars(select(StaffUserRow.email).order_by("email")))
            raise StaffAccountError(
                f"no staff account for {address} (accounts: {known or 'none yet'})"
            )
        session.expunge(row)
        return row


def set_password(store: Store, email: str, password_hash: str, now: datetime) -> int:
    """Change a password; every session of that person ends. Returns how many ended."""
    row = _account(store, email)
    with store.session() as session:
        account = session.get(StaffUserRow, row.id)
        assert account is not None
        account.password_hash = password_hash
        account.updated_at = now
        ended = session.execute(delete(StaffSessionRow).where(StaffSessionRow.email == row.email))
        return int(ended.rowcount or 0)  # type: ignore[attr-defined]


def set_role(store: Store, email: str, role: str, now: datetime) -> StaffUser:
    checked, row = check_role(role), _account(store, email)
    with store.session() as session:
        account = session.get(StaffUserRow, row.id)
        assert account is not None
        account.role = checked
        account.updated_at = now
    return StaffUser(row.email, checked)


def remove_user(store: Store, email: str) -> None:
    """Delete an account and end its sessions."""
    row = _account(store, email)
    with store.session() as session:
        session.execute(delete(StaffSessionRow).where(StaffSessionRow.email == row.email))
        session.execute(delete(StaffUserRow).where(StaffUserRow.id == row.id))


def list_users(store: Store) -> list[StaffUser]:
    with store.session() as session:
        rows = session.scalars(select(StaffUserRow).order_by(StaffUserRow.email))
        return [StaffUser(row.email, check_role(row.role)) for row in rows]


# --- signing in -------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Whose password hash decides a sign-in, and who that makes them."""

    user: StaffUser
    password_hash: str


def credentials_for(settings: Settings, store: Store, email: str) -> Credentials | None:
    """The account's hash, else the bootstrap hash (admin), else None."""
    address = normalize_email(email)
    with store.session() as session:
        row = session.scalar(select(StaffUserRow).where(StaffUserRow.email == address))
        if row is not None:
            return Credentials(StaffUser(row.email, check_role(row.role)), row.password_hash)
    bootstrap = configured_hash(settings)
    if bootstrap is None:
        return None
    return Credentials(StaffUser(address, "admin", bootstrap=True), bootstrap)


def sign_in_enabled(settings: Settings, store: Store) -> bool:
    if configured_hash(settings) is not None:
        return True
    with store.session() as session:
        return session.scalar(select(StaffUserRow.id).limit(1)) is not None


def check_password(credentials: Credentials | None, password: str) -> bool:
    """Raises PasswordHashError for a malformed hash. Without credentials a stand-in hash
    is checked all the same, so the time taken does not tell whether an account exists."""
    if credentials is None:
        verify_password(password, _stand_in_hash())
        return False
    return verify_password(password, credentials.password_hash)


@functools.cache
def _stand_in_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(store: Store, credentials: Credentials, now: datetime) -> tuple[str, str]:
    """Start a session; return (its id for the cookie, its CSRF token)."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with store.session() as session:
        session.execute(delete(StaffSessionRow).where(StaffSessionRow.expires_at < now))
        session.add(
            StaffSessionRow(
                id_hash=_id_hash(session_id),
                email=credentials.user.email,
                password_stamp=password_stamp(credentials.password_hash),
                csrf=csrf,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return session_id, csrf


def load_session(
    settings: Settings, store: Store, session_id: str, now: datetime
) -> tuple[StaffUser, str] | None:
    """(who, their CSRF token) for a live session; None if ended, expired or outdated."""
    with store.session() as session:
        row = session.get(StaffSessionRow, _id_hash(session_id))
        if row is None or row.expires_at <= now:
            return None
        email, stamp, csrf = row.email, row.password_stamp, row.csrf
    credentials = credentials_for(settings, store, email)
    if credentials is None or password_stamp(credentials.password_hash) != stamp:
        end_session(store, session_id)  # the password changed (or the account went)
        return None
    return credentials.user, csrf


def end_session(store: Store, session_id: str) -> None:
    with store.session() as session:
        session.execute(
            delete(StaffSessionRow).where(StaffSessionRow.id_hash == _id_hash(session_id))
        )
