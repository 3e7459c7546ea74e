"""The one retry policy for everything the hub calls out to: partner networks (connectors)
and live professional registers (hub.verification) alike.

One call has one time budget (``deadline``): every attempt, every wait between attempts
and every byte read. Each attempt gets at most ``connect_timeout``/``read_timeout``, and
never more than the budget has left, so a slow upstream cannot hold a worker (or a doctor
waiting on a page) past it. Waits grow exponentially (``backoff`` before the first retry,
doubling) and are cut short by the budget too.

The loop itself is tenacity's (``Retrying``): the caller says which failures are worth
another attempt (``retryable``); anything else ends the call at once. The circuit breaker
(:mod:`connectors.breaker`) wraps the whole call, not each attempt: one call that used up
its retries is one failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception

from connectors.errors import ConfigError

T = TypeVar("T")
Timeouts = tuple[float, float]  # (connect, read) for one attempt, as requests takes them

# Below this, an attempt could not even connect: stop instead of starting it.
MIN_ATTEMPT = 0.05


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    connect_timeout: float = 2.0  # cap on one attempt's TCP/TLS connect
    read_timeout: float = 3.0  # cap on one attempt's wait for the answer
    retries: int = 2  # attempts after the first
    backoff: float = 0.2  # seconds before the first retry; doubles each time
    deadline: float = 4.0  # the whole call: attempts, waits and bodies

    def __post_init__(self) -> None:
        if not 0 < self.deadline <= 300:
            raise ConfigError("retry: deadline must be in (0, 300] seconds")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ConfigError("retry: timeouts must be positive")
        if not 0 <= self.retries <= 5:
            raise ConfigError("retry: retries must be between 0 and 5")
        if not 0 <= self.backoff <= 10:
            raise ConfigError("retry: backoff must be between 0 and 10 seconds")

    def wait_before(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        return float(self.backoff * 2 ** (retry - 1))

    def total_backoff(self) -> float:
        return sum(self.wait_before(n) for n in range(1, self.retries + 1))


def call_with_retries(
    attempt: Callable[[Timeouts], T],
    policy: RetryPolicy,
    *,
    retryable: Callable[[BaseException], bool],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``attempt(timeouts)`` until it returns, raises something not ``retryable``, runs out
    of retries or the budget runs out; then the last exception propagates unchanged."""
    start = clock()

    def left() -> float:
        return policy.deadline - (clock() - start)

    def stop(state: RetryCallState) -> bool:
        return state.attempt_number > policy.retries or left() <= MIN_ATTEMPT

    def wait(state: RetryCallState) -> float:
        return max(min(policy.wait_before(state.attempt_number), left() - MIN_ATTEMPT), 0.0)

    for try_ in Retrying(stop=stop, wait=wait, sleep=sleep, reraise=True,
                         retry=retry_if_exception(retryable)):
        with try_:
            remaining = left()
            return attempt((min(policy.connect_timeout, remaining),
                            min(policy.read_timeout, remaining)))
    raise AssertionError("unreachable: Retrying either returns or re-raises")
