"""The sender's token buckets on an injected clock: no real sleeping."""

from __future__ import annotations

import asyncio
from bisect import bisect_left

import pytest

from digest.delivery.ratelimit import RateLimiter


class FakeClock:
    """Monotonic seconds that move only when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds
        self.slept += seconds


def send_times(per_second: float | None, per_hour: float | None, count: int) -> list[float]:
    """When each of ``count`` messages is let through, in seconds from the start."""
    clock = FakeClock()
    limiter = RateLimiter(per_second, per_hour, clock=clock, sleep=clock.sleep)
    start = clock.now

    async def run() -> list[float]:
        times = []
        for _ in range(count):
            await limiter.acquire()
            times.append(clock.now - start)
        return times

    return asyncio.run(run())


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of sends inside any half-open window of ``window`` seconds."""
    return max(bisect_left(times, t + window - 1e-9) - i for i, t in enumerate(times))


def test_the_hourly_limit_has_no_hour_sized_burst() -> None:
    times = send_times(None, 3600, 8000)
    assert times[0] == 0.0
    # one a second from the start, not 3600 at once
    assert times[:4] == pytest.approx([0.0, 1.0, 2.0, 3.0])
    assert sum(t < 3600 for t in times) <= 3600 + 1
    assert most_in_any_window(times, 3600) <= 3600 + 1
    assert most_in_any_window(times, 60) <= 60 + 1


def test_a_small_hourly_limit_is_spread_evenly() -> None:
    times = send_times(None, 120, 10)  # two a minute
    assert times == pytest.approx([30.0 * i for i in range(10)])


def test_both_limits_hold_and_the_stricter_one_sets_the_pace() -> None:
    times = send_times(50, 36_000, 2000)  # hourly is 10/s, stricter than 50/s
    # a bucket lets through at most capacity + rate * T in T seconds: 10 banked + 10/s
    assert most_in_any_window(times, 1) <= 10 + 10
    assert most_in_any_window(times, 3600) <= 36_000 + 10
    assert times[-1] == pytest.approx(1999 / 10 - 0.9, abs=1.0)


def test_the_per_second_bucket_bursts_at_most_one_second_of_sends() -> None:
    times = send_times(50, None, 500)
    assert sum(t == 0.0 for t in times) == 50  # the initial bank
    assert most_in_any_window(times, 1) <= 50 + 50
    assert times[-1] == pytest.approx((500 - 50) / 50, abs=0.05)


def test_no_limits_never_waits() -> None:
    assert send_times(None, None, 100) == [0.0] * 100
