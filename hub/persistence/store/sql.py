"""Store on the application database: the embedded default.

Atomicity comes from single statements (DELETE .. RETURNING, INSERT .. ON CONFLICT), so
several server processes sharing one SQLite file or one PostgreSQL database stay correct.
The statements are plain SQL understood by both SQLite (3.35+) and PostgreSQL, built once:
this sits on every token request, and building SQLAlchemy constructs per call cost more
than the database round trip.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from sqlalchemy import Engine, text

_PURGE_ONE_IN = 500

_PUT = text(
    "INSERT INTO store_entries (kind, key, value, counter, expires_at) "
    "VALUES (:kind, :key, :value, 0, :exp) "
    "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, "
    "expires_at = excluded.expires_at, counter = 0"
)
_GET = text("SELECT value FROM store_entries WHERE kind = :kind AND key = :key AND expires_at > :now")
_TALLY = text("SELECT counter FROM store_entries WHERE kind = :kind AND key = :key AND expires_at > :now")
_CONSUME = text("DELETE FROM store_entries WHERE kind = :kind AND key = :key RETURNING value, expires_at")
_DELETE = text("DELETE FROM store_entries WHERE kind = :kind AND key = :key")
_PURGE = text("DELETE FROM store_entries WHERE expires_at <= :now")
# An expired row counts as absent: the upsert takes it over in the same statement.
_ADD_ONCE = text(
    "INSERT INTO store_entries (kind, key, value, counter, expires_at) "
    "VALUES (:kind, :key, :value, 0, :exp) "
    "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at "
    "WHERE store_entries.expires_at <= :now RETURNING key"
)
_INCR = text(
    "INSERT INTO store_entries (kind, key, value, counter, expires_at) "
    "VALUES (:kind, :key, :empty, 1, :exp) "
    "ON CONFLICT (kind, key) DO UPDATE SET "
    "counter = CASE WHEN store_entries.expires_at <= :now THEN 1 ELSE store_entries.counter + 1 END, "
    "expires_at = CASE WHEN store_entries.expires_at <= :now THEN excluded.expires_at "
    "ELSE store_entries.expires_at END RETURNING counter"
)


class SQLStore:
    def __init__(self, engine: Engine) -> None:
        # Every operation is one statement, so it runs in autocommit: one round trip.
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def put(self, kind: str, key: str, value: bytes, *, ttl: int) -> None:
        now = time.time()
        with self.engine.connect() as conn:
            conn.execute(_PUT, {"kind": kind, "key": key, "value": value, "exp": now + ttl})
            if random.randrange(_PURGE_ONE_IN) == 0:
                conn.execute(_PURGE, {"now": now})

    def get(self, kind: str, key: str) -> bytes | None:
        with self.engine.connect() as conn:
            v = conn.execute(_GET, {"kind": kind, "key": key, "now": time.time()}).scalar()
        return bytes(v) if v is not None else None

    def consume(self, kind: str, key: str) -> bytes | None:
        with self.engine.connect() as conn:
            row = conn.execute(_CONSUME, {"kind": kind, "key": key}).first()
        if row is None or row[1] <= time.time():
            return None
        return bytes(row[0])

    def consume_and_mark(self, kind: str, key: str, *, mark: str, mark_ttl: int) -> bytes | None:
        value = self.consume(kind, key)
        if value is not None:  # only the caller that took the value writes the mark
            self.put(mark, key, value, ttl=mark_ttl)
        return value

    def delete(self, kind: str, key: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(_DELETE, {"kind": kind, "key": key})

    def add_once(self, kind: str, key: str, *, ttl: int, value: bytes = b"1") -> bool:
        now = time.time()
        with self.engine.connect() as conn:
            row = conn.execute(_ADD_ONCE, {"kind": kind, "key": key, "value": value,
                                           "exp": now + ttl, "now": now}).first()
        return row is not None

    def incr(self, kind: str, key: str, *, ttl: int) -> int:
        return self.read_and_count((), ((kind, key),), ttl=ttl)[1][0]

    def get_many(self, items: Sequence[tuple[str, str]]) -> list[bytes | None]:
        now = time.time()
        with self.engine.connect() as conn:
            values = [conn.execute(_GET, {"kind": kind, "key": key, "now": now}).scalar()
                      for kind, key in items]
        return [bytes(v) if v is not None else None for v in values]

    def read_and_count(self, reads: Sequence[tuple[str, str]], counts: Sequence[tuple[str, str]],
                       *, ttl: int, tallies: Sequence[tuple[str, str]] = ()
                       ) -> tuple[list[bytes | None], list[int]]:
        now = time.time()
        with self.engine.connect() as conn:
            values = [conn.execute(_GET, {"kind": kind, "key": key, "now": now}).scalar()
                      for kind, key in reads]
            counted = [int(conn.execute(_INCR, {"kind": kind, "key": key, "empty": b"",
                                                "exp": now + ttl, "now": now}).scalar_one())
                       for kind, key in counts]
            counted += [int(conn.execute(_TALLY, {"kind": kind, "key": key, "now": now}).scalar() or 0)
                        for kind, key in tallies]
        return [bytes(v) if v is not None else None for v in values], counted

    def write_many(self, *, puts: Sequence[tuple[str, str, bytes, int]] = (),
                   deletes: Sequence[tuple[str, str]] = ()) -> None:
        now = time.time()
        with self.engine.connect() as conn:
            for kind, key, value, ttl in puts:
                conn.execute(_PUT, {"kind": kind, "key": key, "value": value, "exp": now + ttl})
            for kind, key in deletes:
                conn.execute(_DELETE, {"kind": kind, "key": key})

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
