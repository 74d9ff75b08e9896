"""One claim/lease mechanism for every ledger: who holds a row, until when, and is it alive.

A worker claims a row by writing its *owner token* (``host:pid:nonce``) and a lease expiry
into it, in the same transaction that makes the row its own. The claim ends when the
worker records the outcome. A claim is taken over by someone else only when

- its lease has expired (the owner died on another host, or hangs), or
- its owner ran on this host and that process no longer exists (SIGKILL): then at once,
  without waiting for the lease, since the kernel already tells us it is gone.

The delivery ledger (``deliveries.claimed_by`` / ``claim_expires``) uses it per message;
the run ledger keeps its lease in the run's report (owner and heartbeat) and asks the same
:func:`owner_is_gone`. The social-post ledger can use :func:`claimable` the same way.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.sql.elements import ColumnClause

HOST = socket.gethostname()


def new_owner() -> str:
    """An owner token naming this host and process, unique per claimant."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_host_pid(owner: str) -> tuple[str, int | None]:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    return host, int(pid_text) if pid_text.isdigit() else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def owner_is_gone(owner: str) -> bool:
    """True only when ``owner`` ran on this host and its process is gone.

    An owner on another host is never declared gone here: its lease expiry decides.
    """
    host, pid = owner_host_pid(owner)
    if host != HOST or pid is None or pid == os.getpid():
        return False
    return not pid_alive(pid)


def claimable(
    owner_column: ColumnClause[str | None] | ColumnElement[str | None],
    expires_column: ColumnClause[datetime | None] | ColumnElement[datetime | None],
    now: datetime,
) -> ColumnElement[bool]:
    """SQL: the row is free, or its lease has run out."""
    return or_(owner_column.is_(None), and_(expires_column.is_not(None), expires_column < now))


def expiry(now: datetime, lease: timedelta) -> datetime:
    return now + lease
