"""A real token bucket (per second and per hour), not 'sleep after N messages'."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens a second, up to ``capacity`` banked."""

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
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self._refill()
        self.tokens -= 1


class RateLimiter:
    """Every bucket must have a token before a message goes out."""

    def __init__(self, per_second: float | None, per_hour: float | None) -> None:
        self.buckets: list[TokenBucket] = []
        if per_second:
            self.buckets.append(TokenBucket(per_second, max(1.0, per_second)))
        if per_hour:
            self.buckets.append(TokenBucket(per_hour / 3600, max(1.0, per_hour)))
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if not self.buckets:
            return
        async with self._lock:  # first come, first served
            while True:
                wait = max(bucket.delay() for bucket in self.buckets)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            for bucket in self.buckets:
                bucket.take()
