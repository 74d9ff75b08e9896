"""Approve or hold a draft edition from the staff desk.

The scheduler's ``digest.schedule.approval`` owns the approval rules; until it is
present, the status column is updated here, in these two small functions only.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

from digest.config import Settings
from digest.errors import DigestError
from digest.store import Store
from digest.store.tables import EditionRow


class ApprovalError(DigestError):
    pass


def _scheduler_function(name: str) -> Any | None:
    try:
        module = importlib.import_module("digest.schedule.approval")
    except ImportError:
        return None
    return getattr(module, name, None)


def approve_edition(
    settings: Settings, store: Store, edition_id: int, by: str, now: datetime
) -> None:
    approve = _scheduler_function("approve")
    if approve is not None:
        approve(settings, store, edition_id, by, now)
        return
    _set_status(store, edition_id, "approved", by, now, allowed=("draft", "held"))


def hold_edition(settings: Settings, store: Store, edition_id: int, by: str, now: datetime) -> None:
    hold = _scheduler_function("hold")
    if hold is not None:
        hold(settings, store, edition_id, by, now)
        return
    _set_status(store, edition_id, "held", by, now, allowed=("draft", "approved"))


def _set_status(
    store: Store, edition_id: int, status: str, by: str, now: datetime, *, allowed: tuple[str, ...]
) -> None:
    with store.session() as session:
        edition = session.get(EditionRow, edition_id)
        if edition is None:
            raise ApprovalError(f"edition {edition_id} does not exist")
        if edition.status == status:
            return
        if edition.status not in allowed:
            raise ApprovalError(
                f"edition {edition_id} is '{edition.status}'; only {', '.join(allowed)} "
                f"editions can be {status}"
            )
        edition.status = status
        if status == "approved":
            edition.approved_at = now
            edition.approved_by = by
