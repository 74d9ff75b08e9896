"""What a collect would read, source by source, without reading anything.

``digest collect --dry-run`` prints these lines. X sources are described whether or not
they are enabled, with the most posts a collect can read and what that costs, so the
opt-in is an informed one.
"""

from __future__ import annotations

from collections.abc import Iterable

from digest.config import Settings, SourceBase, XSource
from digest.sources import x
from digest.sources.base import READERS


def collect_plan(settings: Settings, only: Iterable[str] | None = None) -> list[str]:
    """One line per source a collect would read (or ``only`` those ids), then X's total."""
    wanted = list(settings.sources) if only is None else list(only)
    lines = []
    for source_id in wanted:
        config = settings.sources.get(source_id)
        note = describe(config) if config is not None else "not in config.yaml; skipped"
        lines.append(f"{source_id}: {note}")
    lines.extend(_x_total([settings.sources[s] for s in wanted if s in settings.sources]))
    return lines


def describe(config: SourceBase) -> str:
    """The reader's description if it has one (it may know costs), else the config's."""
    reader = READERS.get(config.type)
    described = getattr(reader, "describe", None)
    return str(described(config)) if callable(described) else config.describe()


def _x_total(configs: list[SourceBase]) -> list[str]:
    sources = [c for c in configs if isinstance(c, XSource)]
    if not sources:
        return []
    enabled = [c for c in sources if c.enabled]
    every = sum(x.estimated_cost(c) for c in sources)
    now = sum(x.estimated_cost(c) for c in enabled)
    return [
        f"X: about ${now:.2f} per collect as configured ({len(enabled)} of {len(sources)} "
        f"X sources enabled); ${every:.2f} with all of them enabled"
    ]
