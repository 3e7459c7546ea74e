"""The short-lived state interface: codes, sessions, nonces, throttles, locks.

Every piece of short-lived state has a kind, a key and a TTL. Two implementations pass one
conformance suite (tests/persistence/store): SQL (embedded default) and Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Store(Protocol):
    def put(self, kind: str, key: str, value: bytes, *, ttl: int) -> None:
        """Set a value, replacing any previous one."""

    def get(self, kind: str, key: str) -> bytes | None:
        """The live value, or None if absent or expired."""

    def consume(self, kind: str, key: str) -> bytes | None:
        """Atomically get and delete: of two concurrent callers only one gets the value."""

    def consume_and_mark(self, kind: str, key: str, *, mark: str, mark_ttl: int) -> bytes | None:
        """``consume``; a value taken is also left under (``mark``, key) for ``mark_ttl``
        seconds, so a second attempt can be told apart from a key that never existed."""

    def delete(self, kind: str, key: str) -> None: ...

    def add_once(self, kind: str, key: str, *, ttl: int, value: bytes = b"1") -> bool:
        """Set if absent; False means the key is already live (a replay, or a held lock)."""

    def incr(self, kind: str, key: str, *, ttl: int) -> int:
        """Count within a fixed window that starts at the first increment and lasts ttl."""

    # Several operations in one round trip where the backend allows it (a sign-in makes a
    # dozen Store calls; each round trip costs about as much CPU as the work it carries).
    # Each operation is atomic on its own, the batch is not.
    def get_many(self, items: Sequence[tuple[str, str]]) -> list[bytes | None]:
        """``get`` for each (kind, key), in order."""

    def read_and_count(self, reads: Sequence[tuple[str, str]], counts: Sequence[tuple[str, str]],
                       *, ttl: int, tallies: Sequence[tuple[str, str]] = ()
                       ) -> tuple[list[bytes | None], list[int]]:
        """``get`` for each of ``reads`` and ``incr`` for each of ``counts``, in order; then
        the live count of each of ``tallies`` without adding to it (0 when none)."""

    def write_many(self, *, puts: Sequence[tuple[str, str, bytes, int]] = (),
                   deletes: Sequence[tuple[str, str]] = ()) -> None:
        """``put`` for each (kind, key, value, ttl), then ``delete`` for each (kind, key)."""

    def ping(self) -> None:
        """Raise if the backing service is unreachable."""
