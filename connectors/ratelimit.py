"""A per-network token bucket, so the relay stays within what each partner allows.

``rate`` tokens per second refill a bucket of ``burst``; a call costs one token (or
``cost``). The clock is injected (monotonic seconds) so tests and the hub's scheduler can
reason about time. State is per process: divide a partner's limit by the worker count, or
back this with the hub's shared store if a partner's limit is tight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors.errors import ConfigError


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        per_network: dict[str, tuple[float, int]] | None = None,
    ) -> None:
        """``rate``/``burst`` apply to every network unless ``per_network`` overrides them."""
        for r, b in [(rate, burst), *(per_network or {}).values()]:
            if r <= 0 or b < 1:
                raise ConfigError("rate limit: rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._overrides = dict(per_network or {})
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def _limits(self, network: str) -> tuple[float, int]:
        return self._overrides.get(network, (self.rate, self.burst))

    def _bucket(self, network: str) -> tuple[_Bucket, float, int]:
        rate, burst = self._limits(network)
        now = self._clock()
        bucket = self._buckets.get(network)
        if bucket is None:
            bucket = self._buckets[network] = _Bucket(float(burst), now)
        elapsed = max(now - bucket.updated, 0.0)  # a clock that goes back refills nothing
        bucket.tokens = min(float(burst), bucket.tokens + elapsed * rate)
        bucket.updated = now
        return bucket, rate, burst

    def try_acquire(self, network: str, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if available now; never blocks."""
        with self._lock:
            bucket, _, burst = self._bucket(network)
            if cost > burst:
                return False
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return True
            return False

    def wait_time(self, network: str, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens will be available (0.0 if now); ``inf`` if never."""
        with self._lock:
            bucket, rate, burst = self._bucket(network)
            if cost > burst:
                return float("inf")
            return max(cost - bucket.tokens, 0.0) / rate
