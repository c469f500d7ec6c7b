"""Per-client token buckets, in the memory of one gateway process.

With several gateway replicas each enforces its own budget, so the effective limit is the
configured one times the number of replicas; that is good enough to stop a runaway script or
a flood, which is what this limiter is for (login brute force is limited by identity itself).
"""

from __future__ import annotations

import math
import time


class RateLimiter:
    """A token bucket per key: ``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, *, rate: float, burst: int, sweep_threshold: int = 10_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        # key -> [tokens, last refill time]
        self._buckets: dict[str, list[float]] = {}
        self._sweep_threshold = sweep_threshold
        self._next_sweep = sweep_threshold

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _refill(self, key: str, now: float) -> list[float]:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = [self.burst, now]
            self._buckets[key] = bucket
            if len(self._buckets) > self._next_sweep:
                self._sweep(now)
        else:
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        return bucket

    def acquire(self, key: str) -> float:
        """Take one token: 0.0 if allowed, else the seconds until the next token."""
        if not self.enabled:
            return 0.0
        bucket = self._refill(key, time.monotonic())
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / self.rate

    def has_capacity(self, key: str) -> bool:
        """Whether ``key`` could take a token now, without taking it."""
        if not self.enabled:
            return True
        bucket = self._buckets.get(key)
        if bucket is None:
            return True
        return bucket[0] + (time.monotonic() - bucket[1]) * self.rate >= 1.0

    def _sweep(self, now: float) -> None:
        # A bucket idle long enough to be full again behaves exactly like a missing one, so
        # dropping it changes nothing; this keeps memory bounded by the active clients.
        full_after = self.burst / self.rate
        for key in [k for k, (_, last) in self._buckets.items() if now - last >= full_after]:
            del self._buckets[key]
        self._next_sweep = max(self._sweep_threshold, 2 * len(self._buckets))

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_header(wait: float) -> str:
    """``Retry-After`` takes whole seconds; never advise retrying immediately."""
    return str(max(1, math.ceil(wait)))
