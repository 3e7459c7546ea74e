"""Circuit breaker and rate limiter, driven by a fake clock."""

from __future__ import annotations

import pytest

from connectors.breaker import Breakers, CircuitBreaker, CircuitOpen
from connectors.errors import ConfigError, InvalidUpstreamData, UpstreamUnavailable
from connectors.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def down() -> None:
    raise UpstreamUnavailable(reason="timeout")


def test_breaker_opens_after_threshold_and_fails_fast() -> None:
    clock = Clock()
    breaker = CircuitBreaker("sermo", failure_threshold=3, reset_timeout=30, clock=clock)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            breaker.call(down)
    assert breaker.state == "open"
    calls = []
    with pytest.raises(CircuitOpen) as caught:
        breaker.call(lambda: calls.append(1))
    assert calls == [] and caught.value.retry_after == 30 and caught.value.network == "sermo"
    assert isinstance(caught.value, UpstreamUnavailable)  # the relay handles both alike


def test_breaker_half_open_trial_then_close() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=clock)
    with pytest.raises(UpstreamUnavailable):
        breaker.call(down)
    clock.now += 10
    assert breaker.state == "half_open"
    assert breaker.allow() is True and breaker.allow() is False  # one trial at a time
    breaker.record_success()
    assert breaker.state == "closed" and breaker.call(lambda: 42) == 42


def test_breaker_half_open_failure_reopens() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=10, clock=clock)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            breaker.call(down)
    clock.now += 11
    with pytest.raises(UpstreamUnavailable):
        breaker.call(down)  # the trial fails: open again at once, threshold or not
    assert breaker.state == "open" and breaker.retry_after() == 10


def test_breaker_ignores_non_transient_errors_and_success_resets() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=Clock())
    with pytest.raises(UpstreamUnavailable):
        breaker.call(down)
    breaker.call(lambda: None)  # success resets the count
    with pytest.raises(UpstreamUnavailable):
        breaker.call(down)
    for _ in range(5):
        with pytest.raises(InvalidUpstreamData):
            breaker.call(lambda: (_ for _ in ()).throw(InvalidUpstreamData()))
    assert breaker.state == "closed"


def test_half_open_slot_released_on_other_errors() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1, clock=clock)
    with pytest.raises(UpstreamUnavailable):
        breaker.call(down)
    clock.now += 1
    with pytest.raises(ValueError):
        breaker.call(lambda: int("x"))
    assert breaker.allow() is True  # the trial slot came back


def test_breakers_per_network() -> None:
    breakers = Breakers(failure_threshold=1, clock=Clock())
    with pytest.raises(UpstreamUnavailable):
        breakers.for_network("sermo").call(down)
    assert breakers.for_network("sermo").state == "open"
    assert breakers.for_network("artsennet").state == "closed"
    assert breakers.for_network("sermo") is breakers.for_network("sermo")


def test_breaker_config_validated() -> None:
    with pytest.raises(ConfigError):
        CircuitBreaker(failure_threshold=0)


def test_rate_limiter_burst_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.try_acquire("sermo") for _ in range(4)] == [True, True, True, False]
    assert limiter.wait_time("sermo") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.try_acquire("sermo") and not limiter.try_acquire("sermo")
    clock.now += 100
    assert [limiter.try_acquire("sermo") for _ in range(4)] == [True, True, True, False]


def test_rate_limiter_per_network_and_overrides() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock, per_network={"sermo": (10.0, 5)})
    assert limiter.try_acquire("artsennet") and not limiter.try_acquire("artsennet")
    assert sum(limiter.try_acquire("sermo") for _ in range(10)) == 5
    assert limiter.wait_time("sermo", cost=6) == float("inf")
    assert not limiter.try_acquire("sermo", cost=6)


def test_rate_limiter_clock_going_back_grants_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    assert limiter.try_acquire("x")
    clock.now -= 1000
    assert not limiter.try_acquire("x")


def test_rate_limiter_config_validated() -> None:
    with pytest.raises(ConfigError):
        RateLimiter(rate=0, burst=1)
    with pytest.raises(ConfigError):
        RateLimiter(rate=1, burst=1, per_network={"x": (1.0, 0)})
