"""Cron triggers follow local wall-clock time across DST switches, once a week, no hang."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.config import Settings
from digest.triggers import LeadTrigger, cron_trigger, fire_times, latest_fire

SWITCHES = [
    ("America/New_York", datetime(2026, 3, 8)),
    ("America/New_York", datetime(2026, 11, 1)),
    ("Europe/London", datetime(2026, 3, 29)),
    ("Europe/London", datetime(2026, 10, 25)),
]


@pytest.mark.parametrize(("zone", "switch"), SWITCHES)
@pytest.mark.parametrize("schedule", ["fri 16:00", "0 16 * * 5", "sun 09:30"])
def test_weekly_trigger_keeps_local_time_across_dst(
    make_settings: Callable[..., Settings], zone: str, switch: datetime, schedule: str
) -> None:
    settings = make_settings(
        newsletters={
            "weekly": {
                "title": "W",
                "schedule": schedule,
                "timezone": zone,
                "formats": ["weekly_list"],
            }
        }
    )
    trigger = cron_trigger(settings.newsletters["weekly"])
    tz = ZoneInfo(zone)
    start = (switch - timedelta(weeks=3)).replace(tzinfo=tz)
    times = fire_times(trigger, start, start + timedelta(weeks=6) - timedelta(seconds=1))
    assert len(times) == 6  # once a week, six weeks
    local = [t.astimezone(tz) for t in times]
    expected_hour, expected_minute = (9, 30) if "09:30" in schedule else (16, 0)
    assert {(t.hour, t.minute) for t in local} == {(expected_hour, expected_minute)}
    assert len({t.weekday() for t in local}) == 1
    # one local week apart, so one switch week is 7 days ± 1 hour in absolute time
    gaps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in itertools.pairwise(times)}
    assert gaps <= {timedelta(days=7), timedelta(days=7, hours=1), timedelta(days=7, hours=-1)}
    assert len(gaps) == 2  # the switch really falls inside the window


@pytest.mark.parametrize(("zone", "switch"), SWITCHES)
def test_fire_time_inside_the_switch_hour_fires_at_most_once(
    make_settings: Callable[..., Settings], zone: str, switch: datetime
) -> None:
    """02:30/01:30 on a switch day: skipped or shifted by the switch, never twice, no hang."""
    hour = "2:30" if zone == "America/New_York" else "1:30"
    settings = make_settings(
        newsletters={
            "weekly": {
                "title": "W",
                "schedule": f"sun {hour}",
                "timezone": zone,
                "formats": ["weekly_list"],
            }
        }
    )
    trigger = cron_trigger(settings.newsletters["weekly"])
    tz = ZoneInfo(zone)
    day_start = switch.replace(tzinfo=tz)
    on_switch_day = fire_times(trigger, day_start, day_start + timedelta(days=1))
    assert len(on_switch_day) <= 1
    weeks = fire_times(trigger, day_start - timedelta(weeks=2), day_start + timedelta(weeks=2))
    assert len(weeks) in (3, 4)
    assert len({t.astimezone(tz).date() for t in weeks}) == len(weeks)


def test_latest_fire_is_at_or_before_now(make_settings: Callable[..., Settings]) -> None:
    newsletter = make_settings().newsletters["weekly"]  # fri 16:00 America/New_York
    trigger = cron_trigger(newsletter)
    fri_4pm = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    assert latest_fire(trigger, fri_4pm) == fri_4pm
    assert latest_fire(trigger, fri_4pm - timedelta(seconds=1)) == fri_4pm - timedelta(weeks=1)
    assert latest_fire(trigger, fri_4pm + timedelta(days=6)) == fri_4pm


def test_lead_trigger_fires_lead_time_before_each_send(
    make_settings: Callable[..., Settings],
) -> None:
    trigger = LeadTrigger(cron_trigger(make_settings().newsletters["weekly"]), timedelta(hours=2))
    start = datetime(2026, 10, 26, tzinfo=UTC)
    times = fire_times(trigger, start, start + timedelta(weeks=3))
    ny = ZoneInfo("America/New_York")
    assert [(t.astimezone(ny).strftime("%a %H:%M")) for t in times] == ["Fri 14:00"] * 3
    # across the November switch too
    assert times[1].astimezone(UTC) - times[0].astimezone(UTC) == timedelta(days=7, hours=1)


def test_ambiguous_autumn_time_fires_once_not_twice(
    make_settings: Callable[..., Settings],
) -> None:
    """Plain CronTrigger fires 01:30 twice on 2026-10-25 in London; ours fires the first."""
    settings = make_settings(
        newsletters={
            "weekly": {
                "title": "W",
                "schedule": "sun 1:30",
                "timezone": "Europe/London",
                "formats": ["weekly_list"],
            }
        }
    )
    trigger = cron_trigger(settings.newsletters["weekly"])
    day = datetime(2026, 10, 25, tzinfo=UTC)
    times = fire_times(trigger, day - timedelta(hours=2), day + timedelta(hours=6))
    assert [t.astimezone(UTC) for t in times] == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]
    assert trigger.inner.get_next_fire_time(times[0], times[0]) is not None  # the repeat
    assert latest_fire(trigger, day + timedelta(hours=5)) == times[0]
