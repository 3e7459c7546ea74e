"""Live register lookups that never hold up a sign-in: explicit timeouts, a few retries
with exponential backoff inside one overall deadline, and a circuit breaker that stops
calling a register that keeps failing (callers then use the mirror at once)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests

from hub.verification.base import RegisterUnavailable

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    connect_timeout: float = 2.0
    read_timeout: float = 3.0
    retries: int = 2  # attempts after the first
    backoff: float = 0.2  # seconds before the first retry; doubles each time
    deadline: float = 4.0  # total budget for one lookup, retries and waits included


class CircuitBreaker:
    """closed → (``failure_threshold`` consecutive failures) → open → (``reset_after``
    seconds) → half-open: one trial call; success closes, failure opens again."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_after:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_running = False
            if self._opened_at is not None or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()


class _Retryable(Exception):
    pass


def call_live(
    attempt: Callable[[tuple[float, float]], T],
    *,
    breaker: CircuitBreaker,
    policy: HttpPolicy,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``attempt(timeout)`` with retries; raise RegisterUnavailable when the breaker is
    open, the deadline passes or every attempt failed. ``attempt`` raises requests
    exceptions or RegisterUnavailable (not retried)."""
    if not breaker.allow():
        raise RegisterUnavailable("circuit breaker open")
    start = clock()
    delay = policy.backoff
    last_error = "no attempt made"
    for n in range(policy.retries + 1):
        remaining = policy.deadline - (clock() - start)
        if remaining <= 0.05:
            break
        timeout = (min(policy.connect_timeout, remaining), min(policy.read_timeout, remaining))
        try:
            value = _one(attempt, timeout)
        except _Retryable as exc:
            last_error = str(exc)
        except RegisterUnavailable:
            breaker.record_failure()
            raise
        else:
            breaker.record_success()
            return value
        if n < policy.retries:
            wait = min(delay, policy.deadline - (clock() - start))
            if wait <= 0:
                break
            sleep(wait)
            delay *= 2
    breaker.record_failure()
    raise RegisterUnavailable(last_error)


def _one(attempt: Callable[[tuple[float, float]], T], timeout: tuple[float, float]) -> T:
    try:
        return attempt(timeout)
    except requests.Timeout as exc:
        raise _Retryable(f"timeout: {exc.__class__.__name__}") from None
    except requests.ConnectionError as exc:
        raise _Retryable(f"connection failed: {exc.__class__.__name__}") from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status >= 500 or status == 429:
            raise _Retryable(f"HTTP {status}") from None
        raise RegisterUnavailable(f"HTTP {status}") from None
