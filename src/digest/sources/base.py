"""What every source type provides, and the registry that finds it by its config ``type``.

A new source type is one module with one registered reader; nothing else changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx

from digest.config import Settings
from digest.models import Item

D = TypeVar("D")


@dataclass
class SourceContext:
    """What a reader gets for one source on one collect.

    ``client`` is the safe, bounded HTTP client (see digest.http); ``state`` is the
    source's saved state (etag, last_modified, cursor), which the reader may update and
    which is saved after a successful read. ``warnings`` are added to the run report;
    ``removed`` lists guids of this source's stored items deleted at their origin since
    (a deleted post), which the collect removes from the store.
    ``cpu_pool``, when the collect has one, runs CPU-heavy pure functions (feed parsing)
    in worker processes, so they use the other cores instead of waiting for the GIL.
    ``skipped`` counts entries a reader left out, by reason (``SKIP_REASONS``); the
    collect report prints them per source, so nothing is dropped silently.
    """

    source_id: str
    settings: Settings
    client: httpx.AsyncClient
    now: datetime
    since: datetime  # the oldest item worth reading (start of the widest window)
    state: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    cpu_pool: Executor | None = None
    removed: list[str] = field(default_factory=list)  # guids gone at the origin (deleted)
    skipped: Counter[str] = field(default_factory=Counter)
    newest_too_old: datetime | None = None  # the newest entry left out as too old

    def warn(self, message: str) -> None:
        self.warnings.append(f"source '{self.source_id}': {message}")

    def skip(self, reason: str, count: int = 1, *, newest: datetime | None = None) -> None:
        """Record ``count`` entries left out for ``reason`` (one of ``SKIP_REASONS``);
        ``newest`` is the latest date among entries skipped as ``too_old``."""
        if count <= 0:
            return
        self.skipped[reason] += count
        if newest is not None and (self.newest_too_old is None or newest > self.newest_too_old):
            self.newest_too_old = newest

    def keep_recent(self, entries: Iterable[D], date: Callable[[D], datetime]) -> list[D]:
        """The entries dated at or after ``since``; the others are counted as too old."""
        kept: list[D] = []
        old: list[D] = []
        for entry in entries:
            (kept if date(entry) >= self.since else old).append(entry)
        if old:
            self.skip(TOO_OLD, len(old), newest=max(date(e) for e in old))
        return kept


# Why an entry a source returned was not stored, or was dated by digest (the collect
# report explains each): the keys are what RunReport.skipped counts per source.
TOO_OLD, DUPLICATE, UNDATED = "too old", "duplicate", "no date"
OVER_CAP, INCOMPLETE = "over max_entries", "incomplete"
SKIP_REASONS = {
    TOO_OLD: "too old for the window",
    DUPLICATE: "already stored from another source or twice in this one",
    UNDATED: "with no date (dated when first seen, kept across collects)",
    OVER_CAP: "over the source's max_entries (the newest are read)",
    INCOMPLETE: "cut off (an incomplete entry in a truncated feed)",
}


class SourceReader(Protocol):
    """Reads one configured source; raises digest.errors.SourceError when it cannot."""

    async def read(self, config: Any, ctx: SourceContext) -> list[Item]: ...


READERS: dict[str, SourceReader] = {}
R = TypeVar("R", bound=type)


def register(source_type: str) -> Callable[[R], R]:
    """Class decorator: ``@register("feed")`` makes the reader handle ``type: feed``."""

    def decorate(cls: R) -> R:
        READERS[source_type] = cls()
        return cls

    return decorate
