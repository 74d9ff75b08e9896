"""Cron triggers per newsletter, in the newsletter's own zone (zoneinfo, never pytz).

APScheduler's CronTrigger follows wall-clock time. A weekly 'fri 16:00' therefore fires at
16:00 local on both sides of a DST switch. The helpers here also answer the question the
scheduler itself cannot: "when was the most recent fire time at or before now?", which the
catch-up at start-up needs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from digest.config import NewsletterConfig
from digest.timing import parse_schedule

# How far back to look for the latest fire time: widened until one is found.
_LOOKBACK = (
    timedelta(hours=2),
    timedelta(days=1),
    timedelta(days=8),
    timedelta(days=32),
    timedelta(days=367),
    timedelta(days=366 * 8),
)


def cron_trigger(newsletter: NewsletterConfig) -> WallClockCron:
    """The send-time trigger of one newsletter."""
    spec = parse_schedule(newsletter.schedule)
    return WallClockCron(CronTrigger(**spec.as_kwargs(), timezone=ZoneInfo(newsletter.timezone)))


def is_repeat(moment: datetime) -> bool:
    """True for the second occurrence of an ambiguous wall-clock time (autumn DST switch)."""
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()


class WallClockCron(BaseTrigger):  # type: ignore[misc]
    """A CronTrigger that fires once per local wall-clock time.

    CronTrigger fires twice when the time occurs twice (01:30 on the night clocks go
    back); a weekly newsletter must not. The repeat is skipped. The spring gap is left to
    CronTrigger, which never fires inside it.
    """

    __slots__ = ("inner",)

    def __init__(self, inner: CronTrigger) -> None:
        self.inner = inner

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        moment: datetime | None = self.inner.get_next_fire_time(previous_fire_time, now)
        while moment is not None and is_repeat(moment):
            moment = self.inner.get_next_fire_time(moment, moment)
        return moment

    def __getstate__(self) -> dict[str, Any]:
        return {"inner": self.inner}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.inner = state["inner"]

    def __str__(self) -> str:
        return str(self.inner)


class LeadTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires ``lead`` before each fire time of ``inner`` (the approval preview time).

    A module-level class with plain attributes, so APScheduler's persistent store can
    pickle it.
    """

    __slots__ = ("inner", "lead")

    def __init__(self, inner: BaseTrigger, lead: timedelta) -> None:
        self.inner = inner
        self.lead = lead

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        previous = previous_fire_time + self.lead if previous_fire_time else None
        send = self.inner.get_next_fire_time(previous, now + self.lead)
        return send - self.lead if send is not None else None

    def __getstate__(self) -> dict[str, Any]:
        return {"inner": self.inner, "lead": self.lead}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.inner = state["inner"]
        self.lead = state["lead"]

    def __str__(self) -> str:
        return f"lead[{self.inner}, -{self.lead}]"


def next_fire(trigger: BaseTrigger, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after``."""
    result: datetime | None = trigger.get_next_fire_time(after, after)
    return result


def fire_times(trigger: BaseTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time in [start, end]."""
    times: list[datetime] = []
    current: datetime | None = trigger.get_next_fire_time(None, start)
    while current is not None and current <= end:
        times.append(current)
        current = next_fire(trigger, current)
    return times


def latest_fire(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The most recent fire time at or before ``now`` (None if it never fired in 8 years)."""
    for window in _LOOKBACK:
        times = fire_times(trigger, now - window, now)
        if times:
            return times[-1]
    return None


def latest_send_time(newsletter: NewsletterConfig, now: datetime) -> datetime | None:
    return latest_fire(cron_trigger(newsletter), now)


def next_send_time(newsletter: NewsletterConfig, now: datetime) -> datetime | None:
    """The next send time at or after ``now``."""
    result: datetime | None = cron_trigger(newsletter).get_next_fire_time(None, now)
    return result
