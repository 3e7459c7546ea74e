"""Store on Redis: every operation is one atomic Redis command (or one pipeline)."""

from __future__ import annotations

import redis


class RedisStore:
    def __init__(self, url: str, *, prefix: str = "curbside:") -> None:
        self.client = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
        )
        self.prefix = prefix

    def _k(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    def put(self, kind: str, key: str, value: bytes, *, ttl: int) -> None:
        self.client.set(self._k(kind, key), value, ex=max(ttl, 1))

    def get(self, kind: str, key: str) -> bytes | None:
        return self.client.get(self._k(kind, key))  # type: ignore[return-value]

    def consume(self, kind: str, key: str) -> bytes | None:
        return self.client.getdel(self._k(kind, key))  # type: ignore[return-value]

    def delete(self, kind: str, key: str) -> None:
        self.client.delete(self._k(kind, key))

    def add_once(self, kind: str, key: str, *, ttl: int, value: bytes = b"1") -> bool:
        return bool(self.client.set(self._k(kind, key), value, ex=max(ttl, 1), nx=True))

    def incr(self, kind: str, key: str, *, ttl: int) -> int:
        k = self._k(kind, key)
        pipe = self.client.pipeline()
        pipe.incr(k)
        pipe.expire(k, max(ttl, 1), nx=True)
        count, _ = pipe.execute()
        return int(count)

    def ping(self) -> None:
        self.client.ping()
