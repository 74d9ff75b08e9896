"""A real token bucket (per second and per hour), not 'sleep after N messages'.

The hourly limit is spread evenly over the hour: its bucket holds at most one second's
worth of tokens (at least one), so a fresh sender cannot spend the whole hour's quota in
a burst. In any window of T seconds at most ``capacity + rate * T`` messages go out,
which for an hour is ``rate_per_hour`` plus that one-second burst.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

EPSILON = 1e-9


class TokenBucket:
    """``rate`` tokens a second, up to ``capacity`` banked (and banked at the start)."""

    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.clock = clock
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def delay(self) -> float:
        """Seconds until one token is available (0 when one is)."""
        self._refill()
        # float slack: a wait shorter than the clock can resolve would never end
        return 0.0 if self.tokens >= 1 - EPSILON else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self._refill()
        self.tokens -= 1


def burst(rate_per_second: float) -> float:
    """The most a bucket banks: one second's worth, and at least one message."""
    return max(1.0, rate_per_second)


class RateLimiter:
    """Every bucket must have a token before a message goes out."""

    def __init__(
        self,
        per_second: float | None,
        per_hour: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.buckets: list[TokenBucket] = []
        if per_second:
            self.buckets.append(TokenBucket(per_second, burst(per_second), clock))
        if per_hour:
            hourly = per_hour / 3600
            self.buckets.append(TokenBucket(hourly, burst(hourly), clock))
        self._sleep = sleep
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if not self.buckets:
            return
        async with self._lock:  # first come, first served
            while True:
                wait = max(bucket.delay() for bucket in self.buckets)
                if wait <= 0:
                    break
                await self._sleep(wait)
            for bucket in self.buckets:
                bucket.take()
