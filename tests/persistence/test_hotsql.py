"""The hot-path statement runner: same results and errors as SQLAlchemy, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hub.persistence.db import Database, UTCDateTime
from hub.persistence.hotsql import HotSQL

_META = sa.MetaData()
PROBE = sa.Table(
    "hotsql_probe", _META,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("data", sa.JSON),
    sa.Column("at", UTCDateTime),
    sa.Column("n", sa.Integer, default=7),  # a Python-side default the raw path cannot fill
)
INSERT = sa.insert(PROBE)
BY_ID = sa.select(PROBE).where(PROBE.c.id == sa.bindparam("id"))
BUMP = sa.update(PROBE).where(PROBE.c.id == sa.bindparam("key")).values(n=PROBE.c.n + 1)
PID = sa.text("SELECT pg_backend_pid() AS pid")


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    _META.create_all(database.engine)
    yield database
    _META.drop_all(database.engine)


def test_values_written_on_the_hot_path_read_back_with_their_types(db: Database) -> None:
    at = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
    db.hot.execute(INSERT, {"id": "a", "data": {"claims": ["name", "email"]}, "at": at, "n": 1})
    with db.engine.connect() as conn:  # what SQLAlchemy reads is what was written
        row = conn.execute(BY_ID, {"id": "a"}).mappings().one()
    assert row["data"] == {"claims": ["name", "email"]} and row["at"] == at
    hot = db.hot.first(BY_ID, {"id": "a"})
    assert hot == {"id": "a", "data": {"claims": ["name", "email"]}, "at": at, "n": 1}
    assert hot["at"].utcoffset() == timedelta(0)
    assert db.hot.first(BY_ID, {"id": "missing"}) is None
    assert db.hot.execute(BUMP, {"key": "a"}) == 1
    assert db.hot.first(BY_ID, {"id": "a"})["n"] == 2  # type: ignore[index]


def test_a_duplicate_key_is_sqlalchemys_integrity_error_and_nothing_breaks(db: Database) -> None:
    row = {"id": "dup", "data": None, "at": None, "n": 1}
    db.hot.execute(INSERT, row)
    with pytest.raises(sa.exc.IntegrityError):
        db.hot.execute(INSERT, {**row, "n": 2})
    assert db.hot.first(BY_ID, {"id": "dup"})["n"] == 1  # type: ignore[index]


def test_a_transaction_commits_together_or_leaves_nothing(db: Database) -> None:
    with db.hot.transaction() as tx:
        tx.execute(INSERT, {"id": "t1", "data": [1], "at": None, "n": 1})
        tx.execute(BUMP, {"key": "t1"})
        assert tx.first(BY_ID, {"id": "t1"})["n"] == 2  # type: ignore[index]
    with pytest.raises(RuntimeError):
        with db.hot.transaction() as tx:
            tx.execute(INSERT, {"id": "t2", "data": [2], "at": None, "n": 1})
            raise RuntimeError("the caller failed half-way")
    with pytest.raises(sa.exc.IntegrityError):
        with db.hot.transaction() as tx:
            tx.execute(INSERT, {"id": "t3", "data": [3], "at": None, "n": 1})
            tx.execute(INSERT, {"id": "t1", "data": [1], "at": None, "n": 1})
    assert db.hot.first(BY_ID, {"id": "t1"}) is not None
    assert db.hot.first(BY_ID, {"id": "t2"}) is None
    assert db.hot.first(BY_ID, {"id": "t3"}) is None


def _kill_idle_hot_connection(db: Database) -> None:
    """Terminate, from outside the pool, the connection the last hot statement used (the
    pool hands it out next), as a server restart or an idle timeout would."""
    pid = db.hot.first(PID)["pid"]  # type: ignore[index]
    outside = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    try:
        with outside.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    finally:
        outside.dispose()


def test_a_write_and_a_read_after_it_commit_together_or_not_at_all(db: Database) -> None:
    count = sa.text("SELECT count(*) AS rows FROM hotsql_probe WHERE id LIKE :prefix")
    row = {"id": "w1", "data": None, "at": None, "n": 1}
    assert db.hot.first_after(INSERT, row, count, {"prefix": "w%"}) is not None
    assert db.hot.first(BY_ID, {"id": "w1"})["n"] == 1  # type: ignore[index]
    # The write fails: nothing of it stays, and the error is SQLAlchemy's.
    with pytest.raises(sa.exc.IntegrityError):
        db.hot.first_after(INSERT, row, count, {"prefix": "w%"})
    # The read fails after the write: the write is rolled back with it.
    broken = sa.text("SELECT no_such_column FROM hotsql_probe WHERE id = :key")
    with pytest.raises(sa.exc.DBAPIError):
        db.hot.first_after(INSERT, {**row, "id": "w2"}, broken, {"key": "w2"})
    assert db.hot.first(BY_ID, {"id": "w2"}) is None
    with pytest.raises(ValueError, match="must differ"):
        db.hot.first_after(INSERT, {**row, "id": "w3"}, BY_ID, {"id": "w3"})


def test_a_connection_the_server_closed_is_replaced_without_an_error(db: Database) -> None:
    if db.is_sqlite:  # in-process: no server can close a connection; SQLAlchemy runs it all
        assert not db.hot.raw
        return
    db.hot.execute(INSERT, {"id": "r", "data": None, "at": None, "n": 1})
    _kill_idle_hot_connection(db)
    assert db.hot.first(BY_ID, {"id": "r"})["n"] == 1  # type: ignore[index]
    _kill_idle_hot_connection(db)
    with db.hot.transaction() as tx:
        tx.execute(BUMP, {"key": "r"})
    assert db.hot.first(BY_ID, {"id": "r"})["n"] == 2  # type: ignore[index]


def test_hot_connections_are_limited_and_given_back(db: Database) -> None:
    """At most ``max_open`` hot connections at once: one more waits, then fails with
    SQLAlchemy's pool timeout; every connection given back serves the next statement."""
    db.hot.execute(INSERT, {"id": "p1", "data": None, "at": None, "n": 1})
    if db.is_sqlite:  # SQLAlchemy's own pool serves SQLite
        assert db.hot.first(BY_ID, {"id": "p1"})["n"] == 1  # type: ignore[index]
        return
    hot = HotSQL(db.engine, db.auto, max_open=2, max_idle=1, timeout=0.3)
    with hot.transaction() as a, hot.transaction() as b:
        assert a.first(BY_ID, {"id": "p1"}) == b.first(BY_ID, {"id": "p1"})
        with pytest.raises(sa.exc.TimeoutError):
            hot.first(BY_ID, {"id": "p1"})
    for _ in range(5):  # slots come back, with or without an idle connection to keep
        assert hot.first(BY_ID, {"id": "p1"})["n"] == 1  # type: ignore[index]
    with pytest.raises(sa.exc.IntegrityError):  # a failed statement gives its slot back too
        hot.execute(INSERT, {"id": "p1", "data": None, "at": None, "n": 1})
    with hot.transaction() as a, hot.transaction() as b:
        assert a.first(BY_ID, {"id": "p1"}) is not None
    hot.dispose()


def test_disposing_the_engine_closes_the_hot_connections(db: Database) -> None:
    if db.is_sqlite:
        return
    pid = db.hot.first(PID)["pid"]  # type: ignore[index]
    db.engine.dispose()  # as a command's end and gunicorn's fork do
    assert db.hot.first(PID)["pid"] != pid  # type: ignore[index]


def test_a_statement_needing_python_defaults_is_refused_by_name(db: Database) -> None:
    if not db.hot.raw:  # SQLite: SQLAlchemy runs the statement and fills the default
        db.hot.execute(INSERT, {"id": "d", "data": None, "at": None})
        assert db.hot.first(BY_ID, {"id": "d"})["n"] == 7  # type: ignore[index]
        return
    with pytest.raises(ValueError, match="give every column a value"):
        db.hot.execute(INSERT, {"id": "d", "data": None, "at": None})
    assert db.hot.first(BY_ID, {"id": "d"}) is None
