"""Live register lookups that never hold up a sign-in, on the policy every outgoing call of
the hub shares (connectors.resilience, connectors.breaker): one deadline for the lookup,
a few retries with exponential backoff inside it, and a circuit breaker that stops asking
a register that keeps failing (callers then use the mirror at once).

What is register-specific is only which failures are worth another attempt: a timeout, a
refused connection, 429 and 5xx are; any other status, or an answer the register module
could not read (RegisterUnavailable), is not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import requests

from connectors.breaker import CircuitBreaker
from connectors.resilience import RetryPolicy, Timeouts, call_with_retries
from hub.verification.base import RegisterUnavailable

T = TypeVar("T")

# A register that failed this many lookups in a row is left alone for the cool-down.
BREAKER_THRESHOLD = 5
BREAKER_COOLDOWN = 30.0


def register_breaker(register: str) -> CircuitBreaker:
    return CircuitBreaker(register, failure_threshold=BREAKER_THRESHOLD,
                          reset_timeout=BREAKER_COOLDOWN)


class _Transient(Exception):
    """One attempt failed in a way another attempt may not."""


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Transient)


def _one(attempt: Callable[[Timeouts], T], timeouts: Timeouts) -> T:
    try:
        return attempt(timeouts)
    except requests.Timeout as exc:
        raise _Transient(f"timeout: {exc.__class__.__name__}") from None
    except requests.ConnectionError as exc:
        raise _Transient(f"connection failed: {exc.__class__.__name__}") from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status >= 500 or status == 429:
            raise _Transient(f"HTTP {status}") from None
        raise RegisterUnavailable(f"HTTP {status}") from None


def call_live(
    attempt: Callable[[Timeouts], T],
    *,
    breaker: CircuitBreaker,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``attempt(timeouts)`` with retries; raise RegisterUnavailable when the breaker is
    open, the deadline passes or every attempt failed. ``attempt`` raises requests
    exceptions or RegisterUnavailable (not retried)."""
    if not breaker.allow():
        raise RegisterUnavailable("circuit breaker open")
    try:
        value = call_with_retries(lambda t: _one(attempt, t), policy, retryable=_retryable,
                                  sleep=sleep, clock=clock)
    except _Transient as exc:
        breaker.record_failure()
        raise RegisterUnavailable(str(exc)) from None
    except RegisterUnavailable:
        breaker.record_failure()
        raise
    except BaseException:
        # Our own fault, not the register's: give a half-open trial slot back.
        breaker.release_trial()
        raise
    breaker.record_success()
    return value
