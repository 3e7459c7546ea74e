"""Store on the application database: the embedded default.

Atomicity comes from single statements (DELETE .. RETURNING, INSERT .. ON CONFLICT), so
several server processes sharing one SQLite file or one PostgreSQL database stay correct.
"""

from __future__ import annotations

import random
import time

from sqlalchemy import Engine, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from hub.models.store import StoreEntry

_T = StoreEntry.__table__
_PURGE_ONE_IN = 500


class SQLStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def put(self, kind: str, key: str, value: bytes, *, ttl: int) -> None:
        exp = time.time() + ttl
        stmt = self._insert(_T).values(kind=kind, key=key, value=value, counter=0, expires_at=exp)
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={"value": stmt.excluded.value, "expires_at": exp, "counter": 0},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
            if random.randrange(_PURGE_ONE_IN) == 0:
                conn.execute(delete(_T).where(_T.c.expires_at <= time.time()))

    def get(self, kind: str, key: str) -> bytes | None:
        stmt = select(_T.c.value).where(
            _T.c.kind == kind, _T.c.key == key, _T.c.expires_at > time.time()
        )
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar()

    def consume(self, kind: str, key: str) -> bytes | None:
        stmt = delete(_T).where(_T.c.kind == kind, _T.c.key == key).returning(
            _T.c.value, _T.c.expires_at
        )
        with self.engine.begin() as conn:
            row = conn.execute(stmt).first()
        if row is None or row.expires_at <= time.time():
            return None
        return row.value

    def delete(self, kind: str, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(_T).where(_T.c.kind == kind, _T.c.key == key))

    def add_once(self, kind: str, key: str, *, ttl: int, value: bytes = b"1") -> bool:
        now = time.time()
        stmt = self._insert(_T).values(kind=kind, key=key, value=value, counter=0, expires_at=now + ttl)
        # An expired row counts as absent: take it over in the same statement.
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
            where=_T.c.expires_at <= now,
        ).returning(_T.c.key)
        with self.engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def incr(self, kind: str, key: str, *, ttl: int) -> int:
        now = time.time()
        expired = _T.c.expires_at <= now
        stmt = self._insert(_T).values(kind=kind, key=key, value=b"", counter=1, expires_at=now + ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={
                "counter": case((expired, 1), else_=_T.c.counter + 1),
                "expires_at": case((expired, stmt.excluded.expires_at), else_=_T.c.expires_at),
            },
        ).returning(_T.c.counter)
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).scalar_one())

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))
