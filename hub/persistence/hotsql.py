"""Prebuilt statements run on the raw driver for the request hot paths.

Measured here: one prebuilt SELECT through SQLAlchemy's Connection costs ~250 µs of CPU,
the same statement on a psycopg cursor ~60 µs (docs/benchmarks.md). A sign-in runs about a
dozen statements, so on PostgreSQL the hot paths (account, token, consent and audit
statements) skip SQLAlchemy's execution layer: each statement is compiled by SQLAlchemy
once per dialect and parameter set, its bind and result processors are kept, and it runs on
a psycopg connection drawn from the engine's own pool (one pool, one limit on connections:
``pool_size + max_overflow``). SQLAlchemy stays the single source of SQL and types; errors
are raised as SQLAlchemy's own exceptions, so callers handle one family.

SQLite keeps SQLAlchemy's path: its statements are in-process and cheap, and pysqlite needs
SQLAlchemy's type handling (timezone-aware datetimes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine, event, exc
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.expression import SelectBase

# Set while HotSQL draws a connection: the pool's liveness ping (install_checkout_ping) is
# skipped, since a hot statement that meets a connection the server closed is retried once
# on another (pinged) one, and the ping would cost a round trip per statement.
_UNPINGED: ContextVar[bool] = ContextVar("hotsql_unpinged", default=False)
_FRESH = "curbside_fresh"  # connection_record.info: connected, not yet checked out


def install_checkout_ping(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping`` (a connection PostgreSQL dropped, after a restart or a
    failover, is replaced at checkout instead of failing the request that drew it), as a
    checkout listener that HotSQL's own checkouts skip. Build the engine without
    ``pool_pre_ping``."""
    dialect = engine.dialect

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_conn: Any, record: Any) -> None:
        record.info[_FRESH] = True

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop(_FRESH, False) or _UNPINGED.get():
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as e:
            if dialect.is_disconnect(e, dbapi_conn, None):
                # As pool_pre_ping does: every connection older than this one goes too.
                raise exc.InvalidatePoolError() from e
            raise


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

    def __init__(self, engine: Engine, autocommit: Engine) -> None:
        self._engine = engine
        self._auto = autocommit
        self.raw = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        self._compiled: dict[tuple[int, tuple[str, ...]], _Compiled] = {}

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
        pooled = self._checkout()
        try:
            return run(_RawTx(self, pooled.driver_connection))
        except exc.OperationalError:
            # A pooled connection the server closed (a restart, an idle timeout) fails
            # before the statement runs: retry once on another, pinged at checkout.
            if not pooled.driver_connection.broken:
                raise
        finally:
            self._checkin(pooled)
        pooled = self._checkout(ping=True)
        try:
            return run(_RawTx(self, pooled.driver_connection))
        finally:
            self._checkin(pooled)

    @contextmanager
    def transaction(self) -> Iterator[Executor]:
        """Several statements in one transaction, committed on success."""
        if not self.raw:
            with self._engine.begin() as conn:
                yield ConnectionExecutor(conn)
            return
        pooled, tx = self._begin(ping=False)
        if tx is None:  # BEGIN is where a connection the server closed shows it
            pooled, tx = self._begin(ping=True)
        try:
            with _exit_on_leave(tx):
                yield _RawTx(self, pooled.driver_connection)
        except psycopg.Error as e:
            raise _translate(e, "transaction", None) from e
        finally:
            self._checkin(pooled)

    def _begin(self, *, ping: bool) -> tuple[Any, Any]:
        """(pooled connection, entered transaction), or (None, None) when the connection
        turned out broken and ``ping`` is off (the caller tries once more, pinged)."""
        pooled = self._checkout(ping=ping)
        conn = pooled.driver_connection
        try:
            tx = conn.transaction()
            tx.__enter__()
        except psycopg.Error as e:
            broken = conn.broken
            self._checkin(pooled)
            if broken and not ping:
                return None, None
            raise _translate(e, "BEGIN", None) from e
        return pooled, tx

    # -- pooled connections -------------------------------------------------------------
    def _checkout(self, *, ping: bool = False) -> Any:
        """A connection from the engine's pool, in autocommit (each statement its own
        transaction: no BEGIN/COMMIT round trips)."""
        token = None if ping else _UNPINGED.set(True)
        try:
            pooled = self._engine.raw_connection()
        finally:
            if token is not None:
                _UNPINGED.reset(token)
        try:
            pooled.driver_connection.autocommit = True
        except psycopg.Error as e:
            pooled.invalidate(e)
            pooled.close()
            raise _translate(e, "connect", None) from e
        return pooled

    def _checkin(self, pooled: Any) -> None:
        conn = pooled.driver_connection
        if (conn.broken or conn.closed
                or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE):
            # Never hand on a connection in an unknown transaction state.
            pooled.invalidate()
        else:
            conn.autocommit = False  # as SQLAlchemy's own checkouts expect it
        pooled.close()

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
