"""A small in-process token bucket per client address, for the public sign-up form.

It lives in one process's memory: with several workers or servers, each has its own
buckets, so put a shared limiter (the reverse proxy's) in front of a multi-process
deployment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``burst`` requests at once, refilled at ``per_minute`` per minute, per key."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("rate limit needs per_minute > 0 and burst >= 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Take one token for ``key``; False when its bucket is empty."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                self._forget_full_buckets(now)
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True

    def _forget_full_buckets(self, now: float) -> None:
        """Bound memory: drop buckets that have refilled (they equal a fresh one)."""
        if len(self._buckets) < self._max_keys:
            return
        refill_time = self.burst / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= refill_time]:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:  # still full: forget the oldest
            oldest = min(self._buckets, key=lambda k: self._buckets[k].updated)
            del self._buckets[oldest]
