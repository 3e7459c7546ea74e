"""Database engine, session factory and the declarative base shared by all models.

SQLite is the embedded default; PostgreSQL is the production database. Both are reached
through one SQLAlchemy engine built here, so every model and query is written once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from hub.persistence.hotsql import HotSQL

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Per process: SQLAlchemy's pool, and HotSQL's beside it, each hold at most
# POOL_SIZE idle connections and open at most POOL_SIZE + POOL_OVERFLOW.
POOL_SIZE = 10
POOL_OVERFLOW = 20


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def with_timeouts(url: str, *, connect_timeout: int = 0, statement_timeout: int = 0) -> str:
    """A PostgreSQL URL that gives up on an unreachable server after ``connect_timeout``
    seconds and on a statement after ``statement_timeout`` seconds (0: no limit). In the URL
    rather than in connect_args, so HotSQL's raw connections, built from the same URL, get
    them too. Values already in the URL are kept."""
    if not url.startswith("postgresql"):
        return url
    parsed = make_url(url)
    query = dict(parsed.query)
    if connect_timeout and "connect_timeout" not in query:
        query["connect_timeout"] = str(max(connect_timeout, 2))  # libpq's own minimum
    options = query.get("options", "")
    if statement_timeout and "statement_timeout" not in str(options):
        query["options"] = f"{options} -c statement_timeout={statement_timeout * 1000}".strip()
    return parsed.set(query=query).render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # WAL lets several server processes on one machine read while one writes;
        # busy_timeout makes writers queue instead of failing with "database is locked".
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if url.startswith("postgresql"):
        # Pre-ping: a connection PostgreSQL dropped (a restart, a failover) is replaced at
        # checkout instead of failing the request that drew it. It costs a round trip per
        # ORM session; the request hot paths use HotSQL, which retries on its own.
        return create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                             pool_recycle=1800, pool_pre_ping=True)
    return create_engine(url, poolclass=NullPool)


class Database:
    """The engine plus a session factory; one per app."""

    def __init__(self, url: str, *, connect_timeout: int = 0, statement_timeout: int = 0) -> None:
        self.url = url
        self.engine = make_engine(with_timeouts(url, connect_timeout=connect_timeout,
                                                statement_timeout=statement_timeout))
        # Single statements need no BEGIN/COMMIT round trips: each is atomic by itself.
        # The hot paths (Store, token and account lookups) use this; multi-statement work
        # uses engine.begin() or session().
        self.auto = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # The request hot paths' prebuilt statements (raw driver on PostgreSQL).
        self.hot = HotSQL(self.engine, self.auto, max_open=POOL_SIZE + POOL_OVERFLOW,
                          max_idle=POOL_SIZE)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"
