"""The collect stage: read every configured source concurrently into the item store.

``collect`` is synchronous (it runs ``asyncio.run``); from inside a running event loop,
await ``collect_async`` instead. One source failing is a warning in the report; the
others still land.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.errors import SourceError
from digest.models import Item, RunReport
from digest.sources import csv, curated, feeds  # noqa: F401  (they register their readers)
from digest.sources.base import READERS, SourceContext
from digest.sources.http import make_client
from digest.store import Store
from digest.store.items import upsert_items
from digest.store.tables import SourceState

OPTIONAL_READERS = ("digest.sources.bluesky", "digest.sources.x")
SLACK = timedelta(days=1)

for _module in OPTIONAL_READERS:
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as _exc:
        if _exc.name != _module:  # the module exists but something it needs is missing
            raise


@dataclass
class Outcome:
    source_id: str
    items: list[Item] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def collect(
    settings: Settings,
    store: Store,
    report: RunReport,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    now: datetime | None = None,
    only: Iterable[str] | None = None,
) -> None:
    """Read the configured sources (or ``only`` those ids) and store their items."""
    asyncio.run(collect_async(settings, store, report, transport=transport, now=now, only=only))


async def collect_async(
    settings: Settings,
    store: Store,
    report: RunReport,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    now: datetime | None = None,
    only: Iterable[str] | None = None,
) -> None:
    now = now or datetime.now(UTC)
    since = now - widest_period(settings) - SLACK
    source_ids = _chosen_sources(settings, report, only)
    states = _load_states(store, source_ids)
    limit = asyncio.Semaphore(settings.network.concurrency)
    async with make_client(settings.network, transport) as client:

        async def run(source_id: str) -> Outcome:
            ctx = SourceContext(source_id, settings, client, now, since, states[source_id])
            async with limit:
                return await read_source(ctx)

        outcomes = await asyncio.gather(*(run(sid) for sid in source_ids))
    _save(store, outcomes, report, now)


def widest_period(settings: Settings) -> timedelta:
    periods = [n.period for n in settings.newsletters.values()]
    return max(periods, default=timedelta(days=7))


def _chosen_sources(settings: Settings, report: RunReport, only: Iterable[str] | None) -> list[str]:
    wanted = list(settings.sources) if only is None else list(only)
    chosen = []
    for source_id in wanted:
        config = settings.sources.get(source_id)
        if config is None:
            report.warn(f"source '{source_id}': not in config.yaml; skipped")
        elif config.type not in READERS:
            report.warn(f"source '{source_id}': no reader for type '{config.type}'; skipped")
        else:
            chosen.append(source_id)
    return chosen


async def read_source(ctx: SourceContext) -> Outcome:
    """One source, isolated: any exception becomes the outcome's error."""
    config = ctx.settings.sources[ctx.source_id]
    outcome = Outcome(ctx.source_id, state=ctx.state, warnings=ctx.warnings)
    try:
        outcome.items = await READERS[config.type].read(config, ctx)
    except SourceError as exc:
        outcome.error = f"{type(exc).__name__}: {exc.message}"
    except Exception as exc:  # one broken source never sinks the run
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome


def _load_states(store: Store, source_ids: list[str]) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = {sid: {} for sid in source_ids}
    with store.session() as session:
        for row in session.query(SourceState).filter(SourceState.source_id.in_(source_ids)):
            states[row.source_id] = {
                "etag": row.etag,
                "last_modified": row.last_modified,
                "cursor": dict(row.cursor or {}),
            }
    return states


def _save(store: Store, outcomes: list[Outcome], report: RunReport, now: datetime) -> None:
    """Items and fetch state in one transaction, so validators never outlive their items."""
    with store.session() as session:
        counts = _store_items(session, [o for o in outcomes if o.error is None], now)
        report.items_new += counts["new"]
        report.items_updated += counts["updated"]
        for outcome in outcomes:
            report.warnings.extend(outcome.warnings)
            row = session.get(SourceState, outcome.source_id) or SourceState(
                source_id=outcome.source_id
            )
            session.add(row)
            row.fetched_at = now
            if outcome.error is not None:
                report.sources_failed += 1
                report.warn(f"source '{outcome.source_id}' failed: {outcome.error}")
                row.status, row.error = "error", outcome.error
                continue
            report.sources_read += 1
            row.status = str(outcome.state.get("status", "ok"))
            row.error = None
            row.etag = outcome.state.get("etag")
            row.last_modified = outcome.state.get("last_modified")
            row.cursor = outcome.state.get("cursor") or None


def _store_items(session: Session, outcomes: list[Outcome], now: datetime) -> dict[str, int]:
    """All items in one batch; if that fails, source by source so one bad source is
    marked failed and the rest are still stored."""
    try:
        with session.begin_nested():
            counts = upsert_items(session, [i for o in outcomes for i in o.items], now)
            return {str(key): value for key, value in counts.items()}
    except Exception:
        pass
    totals = {"new": 0, "updated": 0, "unchanged": 0}
    for outcome in outcomes:
        try:
            with session.begin_nested():
                counts = upsert_items(session, outcome.items, now)
        except Exception as exc:
            outcome.error = f"storing items failed: {exc!r}"
            continue
        for key, value in counts.items():
            totals[key] += value
    return totals
