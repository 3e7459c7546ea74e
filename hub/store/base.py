"""The short-lived state interface: codes, sessions, nonces, throttles, locks.

Every piece of short-lived state has a kind, a key and a TTL. Two implementations pass one
conformance suite (tests/store): SQL (embedded default) and Redis.
"""

from __future__ import annotations

from typing import Protocol


class Store(Protocol):
    def put(self, kind: str, key: str, value: bytes, *, ttl: int) -> None:
        """Set a value, replacing any previous one."""

    def get(self, kind: str, key: str) -> bytes | None:
        """The live value, or None if absent or expired."""

    def consume(self, kind: str, key: str) -> bytes | None:
        """Atomically get and delete: of two concurrent callers only one gets the value."""

    def delete(self, kind: str, key: str) -> None: ...

    def add_once(self, kind: str, key: str, *, ttl: int, value: bytes = b"1") -> bool:
        """Set if absent; False means the key is already live (a replay, or a held lock)."""

    def incr(self, kind: str, key: str, *, ttl: int) -> int:
        """Count within a fixed window that starts at the first increment and lasts ttl."""

    def ping(self) -> None:
        """Raise if the backing service is unreachable."""
