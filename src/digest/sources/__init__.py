"""The collect stage: read every configured source concurrently into the item store.

``collect`` is synchronous (it runs ``asyncio.run``); from inside a running event loop,
await ``collect_async`` instead. One source failing is a warning in the report; the
others still land.

Downloads share one event loop; parsing feeds is CPU work, so with enough feeds and more
than one core ``collect`` starts worker processes for it (``parse_pool``) before the
event loop runs.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.errors import SourceError
from digest.http import make_client
from digest.models import Item, RunReport
from digest.sources import csv, curated, feeds  # noqa: F401  (they register their readers)
from digest.sources.base import READERS, SourceContext
from digest.sources.clean import clean_item
from digest.store import Store
from digest.store.items import upsert_items
from digest.store.tables import ItemRow, SourceState

OPTIONAL_READERS = ("digest.sources.bluesky", "digest.sources.x")
SLACK = timedelta(days=1)
# Below this many feeds, starting worker processes costs more than parsing saves.
POOL_MIN_FEEDS = 16
POOL_MAX_WORKERS = 4

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
    removed: list[str] = field(default_factory=list)


def collect(
    settings: Settings,
    store: Store,
    report: RunReport,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    now: datetime | None = None,
    only: Iterable[str] | None = None,
    cpu_pool: Executor | None = None,
) -> None:
    """Read the configured sources (or ``only`` those ids) and store their items.

    Feeds are parsed in worker processes when it pays off (see ``parse_pool``), started
    here; or in ``cpu_pool``, one the caller started earlier with ``parse_pool_for`` —
    before starting threads of its own (a progress spinner), which rule out forking.
    """
    chosen = None if only is None else list(only)
    with ExitStack() as stack:
        if cpu_pool is None:
            cpu_pool = stack.enter_context(parse_pool(_feed_count(settings, chosen)))
        asyncio.run(
            collect_async(
                settings,
                store,
                report,
                transport=transport,
                now=now,
                only=chosen,
                cpu_pool=cpu_pool,
            )
        )


async def collect_async(
    settings: Settings,
    store: Store,
    report: RunReport,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    now: datetime | None = None,
    only: Iterable[str] | None = None,
    cpu_pool: Executor | None = None,
) -> None:
    now = now or datetime.now(UTC)
    since = now - widest_period(settings) - SLACK
    source_ids = _chosen_sources(settings, report, only)
    states = _load_states(store, source_ids)
    limit = asyncio.Semaphore(settings.network.concurrency)
    async with make_client(settings.network, transport) as client:

        async def run(source_id: str) -> Outcome:
            ctx = SourceContext(
                source_id, settings, client, now, since, states[source_id], cpu_pool=cpu_pool
            )
            async with limit:
                return await read_source(ctx)

        outcomes = await asyncio.gather(*(run(sid) for sid in source_ids))
    _save(store, outcomes, report, now)


def parse_pool_for(
    settings: Settings, only: Iterable[str] | None = None
) -> AbstractContextManager[Executor | None]:
    """``parse_pool`` sized for the feeds a collect of ``only`` (or all) sources reads."""
    return parse_pool(_feed_count(settings, None if only is None else list(only)))


@contextmanager
def parse_pool(feed_count: int) -> Iterator[Executor | None]:
    """Worker processes for parsing ``feed_count`` feeds, or None (parse in a thread)
    when they would not pay off or cannot be started safely here.

    Workers are forked: the cheapest start (they inherit the imported modules), and only
    safe while this is the only thread, since a lock another thread holds at the fork
    stays held forever in the child. So the pool exists only when called from the main
    thread of a single-threaded process (a plain ``digest collect``), before any event
    loop (its resolver threads); with other threads (the scheduler's thread pool, a
    spinner, a web server) feeds are parsed in a thread, as without a pool. Spawn and
    forkserver were rejected: about 2 s to start a fresh interpreter with the parser,
    more than parsing saves in one collect, and their workers re-import ``__main__``
    (an unguarded embedding script would run again in every worker).

    The workers never use the store: they inherit its pooled database connections but
    never touch them (SQLAlchemy's rule for engines across fork) and leave with
    ``os._exit``, so they never close them either.
    """
    workers = min(_usable_cpus(), POOL_MAX_WORKERS)
    if feed_count < POOL_MIN_FEEDS or workers < 2 or not _fork_is_safe():
        yield None
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        # Start every worker now, while no event loop threads exist. gc.freeze() keeps
        # the existing objects out of the collector's scans: otherwise the first
        # collection in each forked worker touches every inherited object, copying
        # nearly every memory page (~0.2 s per process), and it could finalize an
        # inherited database connection. Objects a program froze itself stay frozen.
        frozen_before = gc.get_freeze_count()
        gc.freeze()
        try:
            for _ in range(workers):
                pool.submit(os.getpid)
        finally:
            if not frozen_before:
                gc.unfreeze()
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _fork_is_safe() -> bool:
    alone = threading.current_thread() is threading.main_thread() and threading.active_count() == 1
    return alone and sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _feed_count(settings: Settings, only: list[str] | None) -> int:
    wanted = settings.sources if only is None else only
    return sum(
        1
        for source_id in wanted
        if (config := settings.sources.get(source_id)) is not None and config.type == "feed"
    )


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
    outcome = Outcome(ctx.source_id, state=ctx.state, warnings=ctx.warnings, removed=ctx.removed)
    try:
        items = await READERS[config.type].read(config, ctx)
        # every source type's items pass here: the one place they are normalised
        outcome.items = [clean_item(item) for item in items]
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
        _remove_deleted(session, [o for o in outcomes if o.error is None])
        report.items_new += counts["new"]
        report.items_updated += counts["updated"]
        # One query for all rows: a get() per source would flush (one INSERT) each time.
        rows = {
            row.source_id: row
            for row in session.scalars(
                select(SourceState).where(
                    SourceState.source_id.in_([o.source_id for o in outcomes])
                )
            )
        }
        for outcome in outcomes:
            report.warnings.extend(outcome.warnings)
            row = rows.get(outcome.source_id) or SourceState(source_id=outcome.source_id)
            session.add(row)
            row.fetched_at = now
            if outcome.error is not None:
                report.sources_failed += 1
                report.warn(f"source '{outcome.source_id}' failed: {outcome.error}")
                row.status, row.error = "error", outcome.error
                continue
            report.sources_read += 1
            _report_skipped(report, outcome)
            row.status = str(outcome.state.get("status", "ok"))
            row.error = None
            row.etag = outcome.state.get("etag")
            row.last_modified = outcome.state.get("last_modified")
            row.cursor = outcome.state.get("cursor") or None


def _remove_deleted(session: Session, outcomes: list[Outcome]) -> None:
    """Items deleted at their origin (a deleted post) leave the store: editions built
    from now on never show them (a frozen edition keeps what it was sent with)."""
    for outcome in outcomes:
        for start in range(0, len(outcome.removed), 500):
            chunk = outcome.removed[start : start + 500]
            session.execute(
                delete(ItemRow).where(
                    ItemRow.source_id == outcome.source_id, ItemRow.guid.in_(chunk)
                )
            )


def _report_skipped(report: RunReport, outcome: Outcome) -> None:
    """What a reader left out, and why (readers put it in their state)."""
    skipped = outcome.state.get("skipped")
    if skipped:
        report.skipped[outcome.source_id] = dict(skipped)
        report.collected_since = outcome.state.get("since") or report.collected_since


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
