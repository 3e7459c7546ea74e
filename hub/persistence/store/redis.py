"""Store on Redis: every operation is one atomic Redis command (or one pipelined pair).

Commands go straight to pooled redis-py connections (``send_command``/``read_response``):
redis-py's client layer (pool locking, a readiness poll, retry and event wrappers) cost
about as much CPU again as the command itself, and a sign-in runs about fifteen.

Every command passes a circuit breaker (connectors/breaker.py, docs/decisions.md): after a
few consecutive failures the store stops asking Redis for a cool-down and raises
:class:`StoreUnavailable` at once, so a frozen Redis costs each request microseconds, not
a timeout; then one command tries Redis again and a success closes the circuit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import hiredis
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from connectors.breaker import CircuitBreaker

MAX_IDLE = 64
_CONSUME_AND_MARK = (
    "local v = redis.call('GETDEL', KEYS[1]) "
    "if v then redis.call('SET', KEYS[2], v, 'EX', ARGV[1]) end "
    "return v"
)


class StoreUnavailable(redis.ConnectionError):
    """Redis failed the last commands and is not asked again until the cool-down ends. A
    ConnectionError, so every entry point answers it as the outage it is (hub/ops/outage.py)."""


class RedisStore:
    def __init__(self, url: str, *, prefix: str = "curbside:", connect_timeout: float = 1.0,
                 timeout: float = 1.0, health_check_interval: int = 30,
                 breaker_threshold: int = 3, breaker_cooldown: float = 2.0) -> None:
        # Short timeouts: an unreachable or frozen Redis is an outage the request is answered
        # 503 for (hub/ops/outage.py), not a worker thread held for seconds. No retry with
        # backoff: _call retries once, at once, on a pooled connection the server closed.
        self.client = redis.Redis.from_url(url, socket_timeout=timeout,
                                           socket_connect_timeout=connect_timeout,
                                           health_check_interval=health_check_interval,
                                           retry=Retry(NoBackoff(), 0))
        self.prefix = prefix
        # Per process, as the connections are: each gunicorn worker finds the outage itself.
        self.breaker = CircuitBreaker("redis", failure_threshold=breaker_threshold,
                                      reset_timeout=breaker_cooldown)
        # No failure since the last success: the breaker is closed and a success changes
        # nothing in it, so the hot path skips its lock (two per command otherwise).
        self._clean = True
        self._idle: list[Any] = []
        self._pid = os.getpid()

    def _k(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    def put(self, kind: str, key: str, value: bytes, *, ttl: int) -> None:
        self._call(("SET", self._k(kind, key), value, "EX", max(ttl, 1)))

    def get(self, kind: str, key: str) -> bytes | None:
        return self._call(("GET", self._k(kind, key)))[0]  # type: ignore[no-any-return]

    def consume(self, kind: str, key: str) -> bytes | None:
        return self._call(("GETDEL", self._k(kind, key)))[0]  # type: ignore[no-any-return]

    def consume_and_mark(self, kind: str, key: str, *, mark: str, mark_ttl: int) -> bytes | None:
        # One script, so the take and the mark are one atomic step and one round trip.
        reply = self._call(("EVAL", _CONSUME_AND_MARK, 2, self._k(kind, key), self._k(mark, key),
                            max(mark_ttl, 1)))[0]
        return reply  # type: ignore[no-any-return]

    def delete(self, kind: str, key: str) -> None:
        self._call(("DEL", self._k(kind, key)))

    def add_once(self, kind: str, key: str, *, ttl: int, value: bytes = b"1") -> bool:
        reply = self._call(("SET", self._k(kind, key), value, "EX", max(ttl, 1), "NX"))[0]
        return reply is not None

    def incr(self, kind: str, key: str, *, ttl: int) -> int:
        return self.read_and_count((), ((kind, key),), ttl=ttl)[1][0]

    def get_many(self, items: Sequence[tuple[str, str]]) -> list[bytes | None]:
        if not items:
            return []
        return self._call(("MGET", *(self._k(kind, key) for kind, key in items)))[0]  # type: ignore[no-any-return]

    def read_and_count(self, reads: Sequence[tuple[str, str]], counts: Sequence[tuple[str, str]],
                       *, ttl: int, tallies: Sequence[tuple[str, str]] = ()
                       ) -> tuple[list[bytes | None], list[int]]:
        commands: list[tuple[Any, ...]] = [("GET", self._k(kind, key)) for kind, key in reads]
        for kind, key in counts:
            k = self._k(kind, key)
            commands += [("INCR", k), ("EXPIRE", k, max(ttl, 1), "NX")]
        commands += [("GET", self._k(kind, key)) for kind, key in tallies]
        replies = self._call(*commands) if commands else []
        counted_end = len(reads) + 2 * len(counts)
        counted = [int(n) for n in replies[len(reads):counted_end:2]]
        return replies[:len(reads)], counted + [int(n or 0) for n in replies[counted_end:]]

    def write_many(self, *, puts: Sequence[tuple[str, str, bytes, int]] = (),
                   deletes: Sequence[tuple[str, str]] = ()) -> None:
        commands: list[tuple[Any, ...]] = [
            ("SET", self._k(kind, key), value, "EX", max(ttl, 1)) for kind, key, value, ttl in puts]
        if deletes:
            commands.append(("DEL", *(self._k(kind, key) for kind, key in deletes)))
        if commands:
            self._call(*commands)

    def ping(self) -> None:
        # Through the breaker: /readyz reports an open circuit without waiting on Redis, and
        # its probes may be the half-open trial that finds Redis back.
        self._call(("PING",))

    # -- connections ----------------------------------------------------------------------
    def _call(self, *commands: tuple[Any, ...]) -> list[Any]:
        if not self._clean and not self.breaker.allow():
            raise StoreUnavailable(f"Redis failed {self.breaker.failure_threshold} commands in "
                                   f"a row; tried again in {self.breaker.retry_after():.1f} s")
        try:
            replies = self._send(*commands)
        except (redis.ConnectionError, redis.TimeoutError):
            self._clean = False
            self.breaker.record_failure()
            raise
        except BaseException:
            # Redis answered (an error reply) or the fault is ours: not a sign of an outage,
            # and a half-open trial must end either way or the circuit would stay shut.
            self._answered()
            raise
        self._answered()
        return replies

    def _answered(self) -> None:
        if not self._clean:
            self.breaker.record_success()
            self._clean = True

    def _send(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Send the commands in one write, read every reply (a pipeline without MULTI)."""
        conn, reused = self._checkout()
        try:
            replies = _roundtrip(conn, commands)
        except redis.ConnectionError:
            conn.disconnect()
            if not reused:
                raise
            # An idle connection the server closed (restart, timeout): it never saw the
            # commands, so they go once more on a new connection.
            conn = self._new()
            try:
                replies = _roundtrip(conn, commands)
            except BaseException:
                conn.disconnect()
                raise
        except redis.ResponseError:
            self._checkin(conn)  # the error reply was read in full: the connection is fine
            raise
        except BaseException:
            conn.disconnect()  # a timeout leaves replies in flight: never reuse it
            raise
        self._checkin(conn)
        return replies

    def _checkout(self) -> tuple[Any, bool]:
        if os.getpid() != self._pid:  # forked (gunicorn): the parent's sockets are not ours
            self._idle, self._pid = [], os.getpid()
        try:
            return self._idle.pop(), True  # list.pop is atomic under the GIL
        except IndexError:
            return self._new(), False

    def _new(self) -> Any:
        pool = self.client.connection_pool
        return pool.connection_class(**pool.connection_kwargs)

    def _checkin(self, conn: Any) -> None:
        if len(self._idle) < MAX_IDLE:
            self._idle.append(conn)
        else:
            conn.disconnect()


def _roundtrip(conn: Any, commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
    # hiredis packs each command in C; redis-py's packer wraps the same call in Python.
    conn.send_packed_command([b"".join(map(hiredis.pack_command, commands))], check_health=False)
    replies = []
    error: redis.ResponseError | None = None
    for _ in commands:
        try:
            replies.append(conn.read_response())
        except redis.ResponseError as e:  # read the remaining replies before raising
            error = error or e
            replies.append(None)
    if error is not None:
        raise error
    return replies
