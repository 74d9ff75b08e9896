"""Durations, schedules and periods, in the newsletter's own time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = r"(?:mon|tue|wed|thu|fri|sat|sun)"
_SHORT = re.compile(
    rf"^\s*(?:(daily|weekdays|{_DAY}(?:,{_DAY})*)\s+)?(\d{{1,2}}):(\d{{2}})\s*$", re.I
)


def parse_duration(text: str) -> timedelta:
    """'7d', '6h', '30m', '90s', '2w' → timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a duration (write e.g. 30m, 6h, 7d)")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


@dataclass(frozen=True)
class CronSpec:
    """The fields of a cron trigger (APScheduler CronTrigger keyword arguments)."""

    minute: str
    hour: str
    day: str = "*"
    month: str = "*"
    day_of_week: str = "*"

    def as_kwargs(self) -> dict[str, str]:
        return {
            "minute": self.minute,
            "hour": self.hour,
            "day": self.day,
            "month": self.month,
            "day_of_week": self.day_of_week,
        }


def parse_schedule(text: str) -> CronSpec:
    """Accept 'fri 16:00', 'mon,wed 09:30', 'daily 07:00', '07:00' or a 5-field cron line."""
    match = _SHORT.match(text)
    if match:
        hour, minute = int(match.group(2)), int(match.group(3))
        if hour > 23 or minute > 59:
            raise ValueError(f"schedule '{text}': time must be between 00:00 and 23:59")
        days = (match.group(1) or "daily").lower()
        dow = {"daily": "*", "weekdays": "mon-fri"}.get(days, days)
        return CronSpec(minute=str(minute), hour=str(hour), day_of_week=dow)
    fields = text.split()
    if len(fields) == 5:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(text)
        except ValueError as exc:
            raise ValueError(f"schedule '{text}': {exc}") from None
        return CronSpec(
            minute=fields[0],
            hour=fields[1],
            day=fields[2],
            month=fields[3],
            day_of_week=_cron_dow(fields[4]),
        )
    raise ValueError(
        f"schedule '{text}' is not understood; write e.g. 'fri 16:00', 'daily 07:00' "
        "or a cron line like '0 16 * * fri'"
    )


def _cron_dow(field: str) -> str:
    """Cron numbers Sunday 0 (and 7); APScheduler numbers Monday 0: use names to avoid the trap."""
    if not re.search(r"\d", field):
        return field

    def name(match: re.Match[str]) -> str:
        return _DAYS[(int(match.group(0)) - 1) % 7]

    return re.sub(r"\d+", name, field)


@dataclass(frozen=True)
class Period:
    """The time window an edition covers: [start, end)."""

    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """Stable identity of the period, used for the run and edition ledgers."""
        return self.end.isoformat(timespec="minutes")


def period_ending(end: datetime, length: timedelta, tz: str) -> Period:
    """The period of ``length`` ending at ``end``, expressed in the newsletter's zone."""
    zone = ZoneInfo(tz)
    end_local = end.astimezone(zone)
    return Period(start=end_local - length, end=end_local)


def skipped_local_times(
    spec: CronSpec, tz: str, start: datetime, days: int = 800
) -> list[datetime]:
    """Scheduled days on which the send time does not exist (the clocks spring past it).

    Only schedules with a single numeric hour and minute are checked; APScheduler skips
    such a run, which for a weekly newsletter means a whole week unsent.
    """
    if not (spec.hour.isdigit() and spec.minute.isdigit()):
        return []
    zone = ZoneInfo(tz)
    hour, minute = int(spec.hour), int(spec.minute)
    gaps = []
    for day in _scheduled_days(spec, start, days):
        wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        round_trip = wall.astimezone(UTC).astimezone(zone)
        if (round_trip.hour, round_trip.minute) != (hour, minute):
            gaps.append(wall)
    return gaps


def _scheduled_days(spec: CronSpec, start: datetime, days: int) -> list[date]:
    """The calendar days the schedule's day/month/weekday fields select (UTC midnights)."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger(
        day=spec.day,
        month=spec.month,
        day_of_week=spec.day_of_week,
        hour=0,
        minute=0,
        timezone=UTC,
    )
    end = start + timedelta(days=days)
    found: list[date] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire < end:
        found.append(fire.date())
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return found
