"""One conformance suite for every Store implementation (SQL and Redis)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hub.persistence.db import Database
from hub.persistence.store import Store, open_store


@pytest.fixture(params=["sql", "redis"])
def store(request: pytest.FixtureRequest, backend: Any, database: Database) -> Iterator[Store]:
    redis_url = os.environ.get("CURBSIDE_TEST_REDIS_URL", "")
    if request.param == "redis" and not redis_url:
        pytest.skip("CURBSIDE_TEST_REDIS_URL not set")
    url = "sql" if request.param == "sql" else redis_url
    yield open_store(url, database.engine, prefix=f"conf{backend.redis_prefix}:{time.time_ns()}:")


def test_put_get_and_replace(store: Store) -> None:
    store.put("k", "a", b"1", ttl=30)
    assert store.get("k", "a") == b"1"
    store.put("k", "a", b"2", ttl=30)
    assert store.get("k", "a") == b"2"
    assert store.get("k", "missing") is None
    assert store.get("other-kind", "a") is None


def test_values_expire(store: Store) -> None:
    store.put("k", "short", b"x", ttl=1)
    time.sleep(1.2)
    assert store.get("k", "short") is None
    assert store.consume("k", "short") is None


def test_consume_is_atomic_under_concurrency(store: Store) -> None:
    store.put("code", "c1", b"payload", ttl=30)
    winners: list[bytes | None] = []
    barrier = threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        winners.append(store.consume("code", "c1"))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [w for w in winners if w is not None] == [b"payload"]
    assert store.get("code", "c1") is None


def test_consume_and_mark_leaves_a_trace_of_what_was_taken(store: Store) -> None:
    store.put("code", "c2", b"payload", ttl=30)
    assert store.consume_and_mark("code", "c2", mark="used", mark_ttl=1) == b"payload"
    assert store.get("code", "c2") is None and store.get("used", "c2") == b"payload"
    assert store.consume_and_mark("code", "c2", mark="used", mark_ttl=30) is None
    assert store.consume_and_mark("code", "never", mark="used", mark_ttl=30) is None
    assert store.get("used", "never") is None
    time.sleep(1.2)
    assert store.get("used", "c2") is None  # the second, failed attempt did not extend it


def test_add_once_detects_replay_and_frees_after_ttl(store: Store) -> None:
    assert store.add_once("jti", "j1", ttl=1) is True
    assert store.add_once("jti", "j1", ttl=1) is False
    time.sleep(1.2)
    assert store.add_once("jti", "j1", ttl=1) is True


def test_incr_counts_within_a_window(store: Store) -> None:
    assert [store.incr("rate", "ip", ttl=1) for _ in range(3)] == [1, 2, 3]
    time.sleep(1.2)
    assert store.incr("rate", "ip", ttl=1) == 1


def test_batched_calls_act_like_the_single_ones(store: Store) -> None:
    store.write_many(puts=[("k", "b1", b"1", 30), ("k", "b2", b"2", 1), ("other", "b1", b"3", 30)])
    assert store.get_many([("other", "b1"), ("k", "missing"), ("k", "b1"), ("k", "b2")]) == [
        b"3", None, b"1", b"2"]
    store.write_many(puts=[("k", "b3", b"4", 30)], deletes=[("k", "b1"), ("k", "missing")])
    assert store.get_many([("k", "b1"), ("k", "b3")]) == [None, b"4"]
    assert store.get_many([]) == []
    time.sleep(1.2)
    assert store.get_many([("k", "b2"), ("other", "b1")]) == [None, b"3"]


def test_read_and_count_reads_and_counts_each_key_in_its_own_window(store: Store) -> None:
    store.put("k", "r", b"v", ttl=30)
    assert store.read_and_count([("k", "r"), ("k", "none")], [("rate", "acct"), ("rate", "addr")],
                                ttl=1) == ([b"v", None], [1, 1])
    assert store.incr("rate", "addr", ttl=1) == 2
    assert store.read_and_count([], [("rate", "acct"), ("rate", "addr")], ttl=1) == ([], [2, 3])
    time.sleep(1.2)
    assert store.read_and_count([("k", "r")], [("rate", "addr")], ttl=1) == ([b"v"], [1])
    assert store.read_and_count([], [], ttl=1) == ([], [])


def test_tallies_read_a_count_without_adding_to_it(store: Store) -> None:
    assert store.read_and_count([], [], ttl=1, tallies=[("rate", "fails")]) == ([], [0])
    store.incr("rate", "fails", ttl=1)
    store.incr("rate", "fails", ttl=1)
    assert store.read_and_count([("k", "none")], [("rate", "other")], ttl=1,
                                tallies=[("rate", "fails"), ("rate", "never")]) == ([None], [1, 2, 0])
    assert store.read_and_count([], [], ttl=1, tallies=[("rate", "fails")]) == ([], [2])
    time.sleep(1.2)  # the window ended
    assert store.read_and_count([], [], ttl=1, tallies=[("rate", "fails")]) == ([], [0])


def test_delete_and_ping(store: Store) -> None:
    store.put("k", "d", b"1", ttl=30)
    store.delete("k", "d")
    assert store.get("k", "d") is None
    store.ping()


def test_a_connection_the_server_closed_is_replaced_without_an_error(store: Store) -> None:
    """Redis restarted or timed out an idle connection: the next call still answers."""
    import redis

    if not hasattr(store, "client"):  # the SQL store rides on the database's own pool
        store.put("k", "kept", b"1", ttl=30)
        assert store.get("k", "kept") == b"1"
        return
    store.put("k", "kept", b"1", ttl=30)
    killer = redis.Redis.from_url(os.environ["CURBSIDE_TEST_REDIS_URL"])
    for _ in range(2):
        # Only this store's idle connections: other tests share the server.
        for conn in list(store._idle):  # type: ignore[attr-defined]
            host, port = conn._sock.getsockname()[:2]
            killer.client_kill_filter(addr=f"{host}:{port}")
        assert store.get("k", "kept") == b"1"
        assert store.incr("k", "count", ttl=30) in (1, 2)
