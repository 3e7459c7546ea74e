"""The one retry policy (connectors/resilience.py), driven by a fake clock and sleep."""

from __future__ import annotations

import pytest
import requests

from connectors.errors import ConfigError, UpstreamUnavailable
from connectors.http import HttpClient, HttpOptions
from connectors.resilience import RetryPolicy, Timeouts, call_with_retries


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Flaky:
    """Fails ``failures`` times (each attempt taking ``takes`` seconds), then answers."""

    def __init__(self, clock: Clock, failures: int, takes: float = 0.0) -> None:
        self.clock, self.failures, self.takes = clock, failures, takes
        self.timeouts: list[Timeouts] = []

    def __call__(self, timeouts: Timeouts) -> str:
        self.timeouts.append(timeouts)
        self.clock.now += self.takes
        if len(self.timeouts) <= self.failures:
            raise TimeoutError("slow")
        return "answer"


def transient(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError)


def test_retries_with_doubling_waits_then_answers() -> None:
    clock = Clock()
    flaky = Flaky(clock, failures=2)
    policy = RetryPolicy(retries=2, backoff=0.2, deadline=4.0)
    assert call_with_retries(flaky, policy, retryable=transient, sleep=clock.sleep,
                             clock=clock) == "answer"
    assert clock.slept == [0.2, 0.4]
    assert flaky.timeouts[0] == (2.0, 3.0)


def test_gives_up_after_the_retries_with_the_last_error() -> None:
    clock = Clock()
    flaky = Flaky(clock, failures=5)
    with pytest.raises(TimeoutError):
        call_with_retries(flaky, RetryPolicy(retries=1, backoff=0.0), retryable=transient,
                          sleep=clock.sleep, clock=clock)
    assert len(flaky.timeouts) == 2


def test_an_error_not_worth_retrying_ends_the_call_at_once() -> None:
    clock = Clock()
    calls: list[Timeouts] = []

    def refused(timeouts: Timeouts) -> str:
        calls.append(timeouts)
        raise PermissionError("no")

    with pytest.raises(PermissionError):
        call_with_retries(refused, RetryPolicy(), retryable=transient, sleep=clock.sleep,
                          clock=clock)
    assert len(calls) == 1 and clock.slept == []


def test_the_deadline_bounds_attempts_and_waits() -> None:
    clock = Clock()
    flaky = Flaky(clock, failures=5, takes=1.5)
    policy = RetryPolicy(connect_timeout=2.0, read_timeout=3.0, retries=5, backoff=0.5,
                         deadline=4.0)
    with pytest.raises(TimeoutError):
        call_with_retries(flaky, policy, retryable=transient, sleep=clock.sleep, clock=clock)
    # 1.5 s attempt, 0.5 s wait, 1.5 s attempt, then only 0.5 s left: a wait cut to fit and
    # an attempt whose timeouts are what is left, never more.
    assert clock.now - 100.0 <= 4.0 + 1.5
    assert flaky.timeouts[1] == (2.0, 2.0)
    assert all(max(t) <= 4.0 for t in flaky.timeouts)
    assert flaky.timeouts[-1][1] < 1.0


def test_policy_is_validated() -> None:
    with pytest.raises(ConfigError):
        RetryPolicy(deadline=0)
    with pytest.raises(ConfigError):
        RetryPolicy(retries=9)


class RefusingSession:
    """A session whose own guard refuses (as the hub's outbound guard does: a
    requests.ConnectionError that names its reason)."""

    def __init__(self) -> None:
        self.calls = 0
        self.headers: dict[str, str] = {}
        self.adapters: dict[str, object] = {}
        self.trust_env = True
        self.max_redirects = 30

        class Refusal(requests.ConnectionError):
            reason = "blocked"

        self.refusal = Refusal

    def request(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        raise self.refusal("refused by the guard")

    def close(self) -> None:
        pass


def test_a_guard_refusal_is_unavailable_and_not_retried() -> None:
    session = RefusingSession()
    http = HttpClient("testnet", HttpOptions(retries=2, backoff_factor=0.0),
                      session=session)  # type: ignore[arg-type]
    with pytest.raises(UpstreamUnavailable) as caught:
        http.get("https://network.example/feed")
    assert caught.value.reason == "connection"
    assert session.calls == 1
