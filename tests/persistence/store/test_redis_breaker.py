"""A Redis that fails stops being asked for a while: the store's circuit breaker.

A frozen Redis (it accepts connections and never answers) would cost every request one
timeout; once the breaker is open, requests are answered 503 without reaching it, and one
request per cool-down tries it again. What is counted is the commands that reach the
server, never elapsed time.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests

from hub.ops.outage import outage_part
from hub.persistence.store.redis import RedisStore, StoreUnavailable
from tests.flows.conftest import RunningHub
from tests.flows.test_outages import RedisServer, serving


class SilentServer:
    """Accepts connections and reads what is sent, never answering: a frozen Redis. Counts
    the connections that carried a command (the store never reuses one that timed out)."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._commands = 0
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def commands(self) -> int:
        with self._lock:
            return self._commands

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        counted = False
        try:
            while conn.recv(65536):
                if not counted:
                    counted = True
                    with self._lock:
                        self._commands += 1
        except OSError:
            pass

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for conn in self._open:
                conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def _fails_as_store_outage(store: RedisStore) -> BaseException:
    with pytest.raises((redis.ConnectionError, redis.TimeoutError)) as raised:
        store.get("k", "a")
    assert outage_part(raised.value) == "store"  # answered 503 by every entry point
    return raised.value


def _wait_until(condition: Any, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_frozen_redis_is_asked_threshold_times_then_once_per_cool_down(
        silent: SilentServer) -> None:
    store = RedisStore(silent.url, timeout=0.2, connect_timeout=0.2, breaker_threshold=3,
                       breaker_cooldown=1.0)
    for _ in range(3):
        assert not isinstance(_fails_as_store_outage(store), StoreUnavailable)
    assert silent.commands == 3
    for _ in range(50):  # the circuit is open: none of these reaches the server
        assert isinstance(_fails_as_store_outage(store), StoreUnavailable)
    assert silent.commands == 3

    # After the cool-down one command tries again; it times out, the circuit opens again.
    _wait_until(lambda: store.breaker.state == "half_open", "the cool-down to end")
    assert not isinstance(_fails_as_store_outage(store), StoreUnavailable)
    assert silent.commands == 4
    for _ in range(20):
        assert isinstance(_fails_as_store_outage(store), StoreUnavailable)
    assert silent.commands == 4
    assert store.breaker.state == "open"


def test_a_half_open_store_lets_one_trial_through_while_the_others_fail_fast(
        silent: SilentServer) -> None:
    store = RedisStore(silent.url, timeout=0.5, connect_timeout=0.5, breaker_threshold=1,
                       breaker_cooldown=0.5)
    _fails_as_store_outage(store)
    _wait_until(lambda: store.breaker.state == "half_open", "the cool-down to end")
    errors: list[BaseException] = []
    started = threading.Barrier(8)

    def call() -> None:
        started.wait()
        try:
            store.get("k", "a")
        except BaseException as e:  # noqa: BLE001 - collected and checked below
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 8
    assert silent.commands == 2  # the first failure, and one trial among the eight
    assert sum(isinstance(e, StoreUnavailable) for e in errors) == 7


def test_an_error_reply_does_not_count_as_an_outage() -> None:
    """Redis answering with an error ("not an integer") is Redis up: the circuit stays closed."""
    url = _shared_redis_url()
    store = RedisStore(url, prefix=f"breaker-test:{time.time_ns()}:", breaker_threshold=1)
    store.put("k", "a", b"not a number", ttl=5)
    for _ in range(3):
        with pytest.raises(redis.ResponseError):
            store.incr("k", "a", ttl=5)
    assert store.breaker.state == "closed"
    assert store.get("k", "a") == b"not a number"


def _shared_redis_url() -> str:
    import os

    url = os.environ.get("CURBSIDE_TEST_REDIS_URL", "")
    if not url:
        pytest.skip("CURBSIDE_TEST_REDIS_URL not set")
    return url


# -- through the hub, on a real socket ---------------------------------------------------

needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None,
                                        reason="needs redis-server")


def _token(hub: RunningHub, client: dict[str, Any]) -> requests.Response:
    return requests.post(f"{hub.issuer}/token", auth=(client["client_id"], client["client_secret"]),
                         data={"grant_type": "client_credentials"}, timeout=10)


def _assert_503(r: requests.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:300])
    assert r.json()["error"] == "temporarily_unavailable"
    assert int(r.headers["Retry-After"]) > 0


def test_behind_the_hub_a_frozen_redis_stops_being_asked(
        backend: Any, database: Any, tmp_path: Any, silent: SilentServer) -> None:
    with serving(backend, tmp_path, store_url=silent.url, redis_timeout=0.3,
                 redis_connect_timeout=0.3, redis_breaker_threshold=3,
                 redis_breaker_cooldown=60.0) as hub:
        hub.hub.keys.ensure()
        client = hub.client()
        for _ in range(12):
            _assert_503(_token(hub, client))
        # Three requests waited for Redis; the other nine were answered without asking it.
        assert silent.commands == 3
        ready = requests.get(f"{hub.issuer}/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["failing"] == ["store"]
        assert silent.commands == 3


@needs_redis_server
def test_behind_the_hub_a_stopped_redis_is_503_and_recovers_without_a_restart(
        backend: Any, database: Any, tmp_path: Any) -> None:
    redis_server = RedisServer()
    redis_server.start()
    try:
        with serving(backend, tmp_path, store_url=redis_server.url, redis_breaker_threshold=2,
                     redis_breaker_cooldown=0.5) as hub:
            hub.hub.keys.ensure()
            client = hub.client()
            assert _token(hub, client).status_code == 200
            redis_server.stop()
            for _ in range(10):
                _assert_503(_token(hub, client))
            assert hub.hub.store.breaker.state in ("open", "half_open")

            redis_server.start()
            _wait_until(lambda: _token(hub, client).status_code == 200, "the hub to recover")
            assert hub.hub.store.breaker.state == "closed"
            assert requests.get(f"{hub.issuer}/readyz", timeout=10).status_code == 200
    finally:
        redis_server.stop()
