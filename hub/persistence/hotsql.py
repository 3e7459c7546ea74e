"""Prebuilt statements run on the raw driver for the request hot paths.

Measured here: one prebuilt SELECT through SQLAlchemy's Connection costs ~250 µs of CPU,
the same statement on a psycopg cursor ~60 µs (docs/benchmarks.md). A sign-in runs about a
dozen statements, so on PostgreSQL the hot paths (account, token, consent and audit
statements) skip SQLAlchemy's execution layer: each statement is compiled by SQLAlchemy
once per dialect and parameter set, its bind and result processors are kept, and it runs on
a pooled psycopg connection. SQLAlchemy stays the single source of SQL and types; errors
are raised as SQLAlchemy's own exceptions, so callers handle one family.

SQLite keeps SQLAlchemy's path: its statements are in-process and cheap, and pysqlite needs
SQLAlchemy's type handling (timezone-aware datetimes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine, exc
from sqlalchemy.sql import ClauseElement

MAX_IDLE = 32


class Executor(Protocol):
    def first(self, stmt: ClauseElement, params: Mapping[str, Any] | None = None
              ) -> dict[str, Any] | None: ...

    def execute(self, stmt: ClauseElement, params: Mapping[str, Any] | None = None) -> int: ...


@dataclass(frozen=True)
class _Compiled:
    stmt: ClauseElement  # kept alive so its id() is never reused by another statement
    sql: str
    defaults: dict[str, Any]
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]
    names: tuple[str, ...]  # result column names, known from the compiled statement
    results: tuple[tuple[str, Callable[[Any], Any]], ...]


class HotSQL:
    """``first``/``execute`` for single statements (autocommit) and ``transaction()``."""

    def __init__(self, engine: Engine, autocommit: Engine) -> None:
        self._engine = engine
        self._auto = autocommit
        self.raw = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        self._compiled: dict[tuple[int, tuple[str, ...]], _Compiled] = {}
        self._idle: list[Any] = []
        self._pid = os.getpid()
        if self.raw:
            self._psycopg = psycopg
            # As keywords, not a rendered URL: libpq reads no "+" as a space in a URL's
            # query, so "options" with two -c settings would reach the server garbled.
            url = engine.url
            self._dsn = psycopg.conninfo.make_conninfo(
                "", **url.translate_connect_args(username="user", database="dbname"),
                **{k: v if isinstance(v, str) else v[-1] for k, v in url.query.items()})

    # -- public API ---------------------------------------------------------------------
    def first(self, stmt: ClauseElement, params: Mapping[str, Any] | None = None
              ) -> dict[str, Any] | None:
        if not self.raw:
            with self._auto.connect() as conn:
                return ConnectionExecutor(conn).first(stmt, params)
        return self._single(lambda tx: tx.first(stmt, params))  # type: ignore[no-any-return]

    def execute(self, stmt: ClauseElement, params: Mapping[str, Any] | None = None) -> int:
        if not self.raw:
            with self._auto.connect() as conn:
                return ConnectionExecutor(conn).execute(stmt, params)
        return self._single(lambda tx: tx.execute(stmt, params))  # type: ignore[no-any-return]

    def first_after(self, prior: ClauseElement, prior_params: Mapping[str, Any],
                    stmt: ClauseElement, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """Run the data-modifying ``prior``, then ``stmt``, in one transaction: on
        PostgreSQL in one round trip, ``prior`` becoming a writable CTE of ``stmt``."""
        if not self.raw:
            if prior_params.keys() & params.keys():  # the raw path checks with its defaults
                raise ValueError("first_after: the two statements' parameter names must differ")
            with self._engine.begin() as conn:
                executor = ConnectionExecutor(conn)
                executor.execute(prior, prior_params)
                return executor.first(stmt, params)
        return self._single(lambda tx: tx.first_after(prior, prior_params, stmt, params))  # type: ignore[no-any-return]

    def _single(self, run: Callable[[_RawTx], Any]) -> Any:
        conn, reused = self._checkout()
        try:
            return run(_RawTx(self, conn))
        except exc.OperationalError:
            # An idle connection the server closed (a restart, an idle timeout) fails before
            # the statement runs: retry once on a new connection.
            if not (reused and conn.broken):
                raise
            conn.close()
            conn, _ = self._checkout(fresh=True)
            return run(_RawTx(self, conn))
        finally:
            self._checkin(conn)

    @contextmanager
    def transaction(self) -> Iterator[Executor]:
        """Several statements in one transaction, committed on success."""
        if not self.raw:
            with self._engine.begin() as conn:
                yield ConnectionExecutor(conn)
            return
        conn, reused = self._checkout()
        try:
            try:
                tx = conn.transaction()
                tx.__enter__()  # BEGIN: where a connection the server closed shows it
            except self._psycopg.OperationalError:
                if not (reused and conn.broken):
                    raise
                conn.close()
                conn, _ = self._checkout(fresh=True)
                tx = conn.transaction()
                tx.__enter__()
            with _exit_on_leave(tx):
                yield _RawTx(self, conn)
        except self._psycopg.Error as e:
            raise _translate(e, "transaction", None) from e
        finally:
            self._checkin(conn)

    def dispose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- raw connections ----------------------------------------------------------------
    def _checkout(self, *, fresh: bool = False) -> tuple[Any, bool]:
        """(connection, whether it was idle in the pool)."""
        if os.getpid() != self._pid:  # forked (gunicorn): the parent's sockets are not ours
            self._idle, self._pid = [], os.getpid()
        if not fresh:
            try:
                return self._idle.pop(), True  # list.pop is atomic under the GIL
            except IndexError:
                pass
        try:
            # Plain tuples: psycopg's dict rows describe every column on every fetch.
            conn = self._psycopg.connect(self._dsn, autocommit=True)
        except self._psycopg.Error as e:
            raise _translate(e, "connect", None) from e
        return conn, False

    def _checkin(self, conn: Any) -> None:
        if conn.broken or conn.closed or len(self._idle) >= MAX_IDLE:
            conn.close()
            return
        if conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
            conn.close()  # never hand on a connection in an unknown transaction state
            return
        self._idle.append(conn)

    def compiled(self, stmt: ClauseElement, params: Mapping[str, Any]) -> _Compiled | None:
        """The statement as SQL for this parameter set, or None when only SQLAlchemy could
        run it (Python-side column defaults to fill in, or an expanding IN list)."""
        key = (id(stmt), tuple(sorted(params)))
        found = self._compiled.get(key)
        if found is not None:
            return found
        dialect = self._engine.dialect
        c = stmt.compile(dialect=dialect, column_keys=list(params))
        if c.insert_prefetch or c.update_prefetch or "POSTCOMPILE" in c.string:
            return None
        binds = tuple((name, fn) for name, fn in c._bind_processors.items()
                      if name in c.binds)
        results = []
        names = tuple(col.keyname for col in c._result_columns)
        for col in c._result_columns:
            proc = col.type._cached_result_processor(dialect, None)
            if proc is not None:
                results.append((col.keyname, proc))
        found = _Compiled(stmt, c.string, {k: v for k, v in c.params.items() if k not in params},
                          binds, names, tuple(results))
        self._compiled[key] = found
        return found


class _RawTx:
    def __init__(self, hot: HotSQL, conn: Any) -> None:
        self.hot = hot
        self.conn = conn

    def _bound(self, stmt: ClauseElement, params: Mapping[str, Any] | None
               ) -> tuple[_Compiled, dict[str, Any]]:
        params = params or {}
        c = self.hot.compiled(stmt, params)
        if c is None:
            raise ValueError(f"{stmt} cannot run on the hot path: give every column a value "
                             "and use no expanding IN lists")
        values = {**c.defaults, **params}
        for name, fn in c.binds:
            if name in values:
                values[name] = fn(values[name])
        return c, values

    def _run(self, stmt: ClauseElement, params: Mapping[str, Any] | None) -> Any:
        c, values = self._bound(stmt, params)
        return c, self._cursor(c.sql, values)

    def _cursor(self, sql: str, values: dict[str, Any]) -> Any:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, values)
        except self.hot._psycopg.Error as e:
            cur.close()
            raise _translate(e, sql, values) from e
        return cur

    def first_after(self, prior: ClauseElement, prior_params: Mapping[str, Any],
                    stmt: ClauseElement, params: Mapping[str, Any]) -> dict[str, Any] | None:
        p, prior_values = self._bound(prior, prior_params)
        c, values = self._bound(stmt, params)
        if prior_values.keys() & values.keys():
            raise ValueError("first_after: the two statements' parameter names must differ")
        return self._fetch_first(c, self._cursor(f"WITH prior AS ({p.sql}) {c.sql}",
                                                 {**prior_values, **values}))

    def first(self, stmt: ClauseElement, params: Mapping[str, Any] | None = None
              ) -> dict[str, Any] | None:
        c, cur = self._run(stmt, params)
        return self._fetch_first(c, cur)

    def _fetch_first(self, c: _Compiled, cur: Any) -> dict[str, Any] | None:
        with cur:
            values = cur.fetchone() if cur.pgresult and cur.pgresult.nfields else None
            if values is None:
                return None
            row = dict(zip(c.names or _names(cur), values, strict=True))
        for name, fn in c.results:
            row[name] = fn(row[name])
        return row

    def execute(self, stmt: ClauseElement, params: Mapping[str, Any] | None = None) -> int:
        _, cur = self._run(stmt, params)
        with cur:
            return int(cur.rowcount)


class ConnectionExecutor:
    """The same two calls on a SQLAlchemy connection (SQLite, or inside an ORM session)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def first(self, stmt: ClauseElement, params: Mapping[str, Any] | None = None
              ) -> dict[str, Any] | None:
        row = self.conn.execute(stmt, dict(params or {})).mappings().first()
        return dict(row) if row is not None else None

    def execute(self, stmt: ClauseElement, params: Mapping[str, Any] | None = None) -> int:
        return int(self.conn.execute(stmt, dict(params or {})).rowcount)


def _names(cur: Any) -> tuple[str, ...]:
    """Column names of a textual statement (SQLAlchemy knows them only for Core selects)."""
    return tuple(col.name for col in cur.description)


@contextmanager
def _exit_on_leave(tx: Any) -> Iterator[None]:
    """Commit the entered psycopg transaction on success, roll it back on any error."""
    try:
        yield
    except BaseException as e:
        tx.__exit__(type(e), e, e.__traceback__)
        raise
    tx.__exit__(None, None, None)


def _translate(e: Exception, sql: str, params: Any) -> exc.DBAPIError:
    return exc.DBAPIError.instance(sql, params, e, psycopg.Error)  # type: ignore[return-value]
