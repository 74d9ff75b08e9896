"""What every source type provides, and the registry that finds it by its config ``type``.

A new source type is one module with one registered reader; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx

from digest.config import Settings
from digest.models import Item


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

    def warn(self, message: str) -> None:
        self.warnings.append(f"source '{self.source_id}': {message}")


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
