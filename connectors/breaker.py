"""The one circuit breaker for everything the hub calls out to (closed/open/half-open): one
per partner network in the relay, one per live register, one for the Redis store.

Why: when an upstream is down, every call would wait out its full time budget; after
``failure_threshold`` consecutive failures the breaker opens and calls fail fast with
:class:`UpstreamUnavailable` for ``reset_timeout`` seconds, then lets ``half_open_max``
trial calls through: a success closes it, a failure opens it again.

With :meth:`call`, only :class:`UpstreamUnavailable` counts as a failure: a rejected token
or one doctor's malformed feed says nothing about the network's health. Callers with other
error types drive it with :meth:`allow`, :meth:`record_failure`, :meth:`record_success` and
:meth:`release_trial`. State is per process; with several workers each keeps its own,
which is fine for shedding load.

Written here rather than taken from pybreaker or purgatory (docs/decisions.md, 2026-12-06):
pybreaker holds its lock for the whole guarded call, which would serialise every Redis
command of a worker, and neither takes a clock to test with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal, TypeVar

from connectors.errors import ConfigError, UpstreamUnavailable

State = Literal["closed", "open", "half_open"]
T = TypeVar("T")


class CircuitOpen(UpstreamUnavailable):
    default_reason = "circuit_open"


class CircuitBreaker:
    def __init__(
        self,
        network: str = "",
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        half_open_max: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_timeout <= 0 or half_open_max < 1:
            raise ConfigError("breaker: threshold >= 1, reset_timeout > 0, half_open_max >= 1")
        self.network = network
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.half_open_max = half_open_max
        self._clock = clock
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._trials = 0

    @property
    def state(self) -> State:
        with self._lock:
            return self._current()

    def _current(self) -> State:
        if self._state == "open" and self._clock() - self._opened_at >= self.reset_timeout:
            self._state, self._trials = "half_open", 0
        return self._state

    def allow(self) -> bool:
        """May a call go out now? In half-open, reserves one of the trial slots."""
        with self._lock:
            state = self._current()
            if state == "closed":
                return True
            if state == "half_open" and self._trials < self.half_open_max:
                self._trials += 1
                return True
            return False

    def retry_after(self) -> float:
        with self._lock:
            if self._current() != "open":
                return 0.0
            return max(self.reset_timeout - (self._clock() - self._opened_at), 0.0)

    def record_success(self) -> None:
        with self._lock:
            self._state, self._failures, self._trials = "closed", 0, 0

    def record_failure(self) -> None:
        with self._lock:
            state = self._current()
            self._failures += 1
            if state == "half_open" or self._failures >= self.failure_threshold:
                self._state, self._opened_at, self._trials = "open", self._clock(), 0

    def call(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> T:
        """Run ``fn`` through the breaker; raises :class:`CircuitOpen` when not allowed."""
        if not self.allow():
            raise CircuitOpen(network=self.network, retry_after=self.retry_after())
        try:
            result = fn(*args, **kwargs)
        except UpstreamUnavailable:
            self.record_failure()
            raise
        except BaseException:
            # Not a health signal, but a half-open trial slot must be given back.
            self.release_trial()
            raise
        self.record_success()
        return result

    def release_trial(self) -> None:
        """End a call that says nothing about the upstream's health (our own error): a
        half-open trial slot it held is given back, the counts stay as they were."""
        with self._lock:
            if self._state == "half_open" and self._trials > 0:
                self._trials -= 1


class Breakers:
    """One :class:`CircuitBreaker` per network, created on first use with shared settings."""

    def __init__(self, **settings: object) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._by_network: dict[str, CircuitBreaker] = {}

    def for_network(self, network: str) -> CircuitBreaker:
        with self._lock:
            breaker = self._by_network.get(network)
            if breaker is None:
                breaker = CircuitBreaker(network, **self._settings)  # type: ignore[arg-type]
                self._by_network[network] = breaker
            return breaker
