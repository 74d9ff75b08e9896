"""Why an edition is empty, and what to do: the lines `preview` and `build` print.

An empty preview used to say only "0 items". The usual causes, in the order a first-time
user meets them: nothing collected yet; items stored but none published in this
edition's period (sample or old items, or a period chosen with --at); items in the period
that no section's ``select`` rule takes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from digest.config import Settings
from digest.store import Store
from digest.store.tables import ItemRow
from digest.timing import Period


def why_empty(settings: Settings, store: Store, newsletter_id: str, period: Period) -> list[str]:
    """Plain sentences explaining an edition with no items, each ending with what to do."""
    with store.session() as session:
        total, newest = session.execute(
            select(func.count(ItemRow.id), func.max(ItemRow.published_at))
        ).one()
        in_period = session.scalar(
            select(func.count(ItemRow.id)).where(
                ItemRow.published_at >= period.start, ItemRow.published_at < period.end
            )
        )
    window = f"{period.start:%Y-%m-%d %H:%M} to {period.end:%Y-%m-%d %H:%M %Z}"
    if not total:
        return [
            "No items are stored yet.",
            "Run `digest collect` first: it says per source what it read, stored and skipped.",
        ]
    if not in_period:
        newest_at = _aware(newest).astimezone(period.end.tzinfo)
        return [
            f"{total} items are stored, but none was published in this edition's period "
            f"({window}); the newest is dated {newest_at:%Y-%m-%d %H:%M %Z}.",
            "Add items dated in the period (or point the sources at fresh feeds) and run "
            "`digest collect`, or look at the period that holds them with "
            f"--at {_send_after(settings, newsletter_id, newest_at)}.",
        ]
    formats = ", ".join(settings.newsletters[newsletter_id].formats)
    return [
        f"{in_period} items were published in this edition's period ({window}), but no "
        f"section takes them (formats: {formats}).",
        "Check each format's `select:` (sources, kinds, tags) in config.yaml, and "
        "`digest check-config` for warnings about sources no format selects.",
    ]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _send_after(settings: Settings, newsletter_id: str, moment: datetime) -> str:
    """The first scheduled send after ``moment``: its period holds ``moment``."""
    from digest.triggers import next_send_time

    send = next_send_time(settings.newsletters[newsletter_id], moment)
    send = send or moment + timedelta(days=1)
    return send.isoformat(timespec="minutes")
