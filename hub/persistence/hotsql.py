"""Prebuilt statements run on the raw driver for the request hot paths.

Measured here: one prebuilt SELECT through SQLAlchemy's Connection costs ~250 µs of CPU,
the same statement on a psycopg cursor ~60 µs (docs/benchmarks.md). A sign-in runs about a
dozen statements, so on PostgreSQL the hot paths (account, token, consent and audit
statements) skip SQLAlchemy's execution layer: each statement is compiled by SQLAlchemy
once per dialect and parameter set, its bind and result processors are kept, and it runs on
a psycopg connection of HotSQL's own small pool: at most ``max_open`` connections at once
(a caller waits up to ``timeout`` seconds for one, then gets SQLAlchemy's pool
TimeoutError), ``max_idle`` of them kept. It is not the engine's pool because checking a
connection out of SQLAlchemy's pool and back adds about half the CPU of a hot statement
(docs/benchmarks.md, 2026-12-06, and docs/decisions.md). SQLAlchemy stays the single
source of SQL and types; errors are raised as SQLAlchemy's own exceptions, so callers
handle one family.

SQLite keeps SQLAlchemy's path: its statements are in-process and cheap, and pysqlite needs
SQLAlchemy's type handling (timezone-aware datetimes).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine, event, exc
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.expression import SelectBase


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
    names: tuple[str, ...] | None  # result column names when the statement declares them
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, processor)


class HotSQL:
    """``first``/``execute`` for single statements (autocommit) and ``transaction()``."""

    def __init__(self, engine: Engine, autocommit: Engine, *, max_open: int = 30,
                 max_idle: int = 10, timeout: float = 30) -> None:
        self._engine = engine
        self._auto = autocommit
        self.raw = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        self._compiled: dict[tuple[int, tuple[str, ...]], _Compiled] = {}
        self._max_open, self._max_idle, self._timeout = max_open, max_idle, timeout
        self._reset_pool()
        if self.raw:
            # As keywords, not a rendered URL: libpq reads no "+" as a space in a URL's
            # query, so "options" with two -c settings would reach the server garbled.
            url = engine.url
            self._dsn = psycopg.conninfo.make_conninfo(
                "", **url.translate_connect_args(username="user", database="dbname"),
                **{k: v if isinstance(v, str) else v[-1] for k, v in url.query.items()})
            # engine.dispose() (a command's end, before gunicorn forks) closes these too.
            event.listen(engine, "engine_disposed", lambda _engine: self.dispose())

    def _reset_pool(self) -> None:
        self._idle: list[Any] = []
        self._slots = threading.BoundedSemaphore(self._max_open)
        self._pid = os.getpid()

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
        finally:
            self._checkin(conn)
        conn, _ = self._checkout(fresh=True)
        try:
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
        conn, tx = self._begin(fresh=False)
        if tx is None:  # BEGIN is where a connection the server closed shows it
            conn, tx = self._begin(fresh=True)
        try:
            with _exit_on_leave(tx):
                yield _RawTx(self, conn)
        except psycopg.Error as e:
            raise _translate(e, "transaction", None) from e
        finally:
            self._checkin(conn)

    def _begin(self, *, fresh: bool) -> tuple[Any, Any]:
        """(connection, entered transaction), or (None, None) when an idle connection
        turned out closed by the server (the caller tries once more on a fresh one)."""
        conn, reused = self._checkout(fresh=fresh)
        try:
            tx = conn.transaction()
            tx.__enter__()
        except psycopg.Error as e:
            broken = reused and conn.broken
            self._checkin(conn)
            if broken:
                return None, None
            raise _translate(e, "BEGIN", None) from e
        return conn, tx

    def dispose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- connections --------------------------------------------------------------------
    def _checkout(self, *, fresh: bool = False) -> tuple[Any, bool]:
        """(connection, whether it was idle in the pool); it holds one of ``max_open``
        slots until ``_checkin``."""
        if os.getpid() != self._pid:  # forked (gunicorn): the parent's sockets are not ours
            self._reset_pool()
        if not self._slots.acquire(timeout=self._timeout):
            raise exc.TimeoutError(f"all {self._max_open} hot-path database connections "
                                   f"are in use (waited {self._timeout:g} s)")
        if not fresh:
            try:
                return self._idle.pop(), True  # list.pop is atomic under the GIL
            except IndexError:
                pass
        try:
            # Plain tuples: psycopg's dict rows describe every column on every fetch.
            return psycopg.connect(self._dsn, autocommit=True), False
        except psycopg.Error as e:
            self._slots.release()
            raise _translate(e, "connect", None) from e

    def _checkin(self, conn: Any) -> None:
        try:
            if (conn.broken or conn.closed or len(self._idle) >= self._max_idle
                    # never hand on a connection in an unknown transaction state
                    or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE):
                conn.close()
            else:
                self._idle.append(conn)
        finally:
            self._slots.release()

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
        binds = []
        for name, bind in c.binds.items():
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                binds.append((name, proc))
        names = None
        results = []
        if isinstance(stmt, SelectBase):
            columns = list(stmt.selected_columns)
            names = tuple(col.key for col in columns)
            if len(set(names)) != len(names):
                names = None  # the database's own names, as for a textual statement
            for i, col in enumerate(columns):
                proc = col.type.dialect_impl(dialect).result_processor(dialect, None)
                if proc is not None:
                    results.append((i, proc))
        found = _Compiled(stmt, c.string, {k: v for k, v in c.params.items() if k not in params},
                          tuple(binds), names, tuple(results))
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
        except psycopg.Error as e:
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
            names = c.names or _names(cur)
        if c.results:
            values = list(values)
            for i, fn in c.results:
                values[i] = fn(values[i])
        return dict(zip(names, values, strict=True))

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
    """Column names of a textual statement, as the database reports them."""
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
