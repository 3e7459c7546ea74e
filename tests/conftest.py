"""Backends for the whole suite.

Every test that asks for ``backend`` runs twice: on the embedded default (SQLite + SQL
store) and on PostgreSQL + Redis. The second is configured by ``CURBSIDE_TEST_DATABASE_URL``
and ``CURBSIDE_TEST_REDIS_URL``; when they are set and the servers are unreachable the
suite fails (CI must exercise them), when they are unset those runs are skipped.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hub.persistence.db import Database

PG_URL = os.environ.get("CURBSIDE_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("CURBSIDE_TEST_REDIS_URL", "")


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    store_url: str  # "sql" or a redis:// URL
    redis_prefix: str = ""


def _pg_schema_url(base: str) -> Iterator[str]:
    """A private PostgreSQL schema per test session, so parallel runs never collide."""
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"CURBSIDE_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(f"CURBSIDE_TEST_REDIS_URL is set but Redis is unreachable: {exc}")


@pytest.fixture(scope="session", params=["sqlite", "postgres-redis"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "curbside.db"
        yield Backend("sqlite", f"sqlite:///{path}", "sql")
        return
    if not PG_URL or not REDIS_URL:
        pytest.skip("CURBSIDE_TEST_DATABASE_URL / CURBSIDE_TEST_REDIS_URL not set")
    _check_redis(REDIS_URL)
    gen = _pg_schema_url(PG_URL)
    url = next(gen)
    yield Backend("postgres-redis", url, REDIS_URL, redis_prefix=secrets.token_hex(4))
    next(gen, None)


@pytest.fixture(scope="session")
def database(backend: Backend) -> Iterator[Database]:
    """The backend's database, migrated to the latest schema with Alembic (once per run)."""
    import hub.persistence.models  # noqa: F401  (every table)
    from hub.persistence.db import Base, Database
    from hub.persistence.schema import upgrade

    db = Database(backend.database_url)
    upgrade(db)
    # Tables of work in progress whose migration is not written yet; test_migrations.py
    # fails until it is, so nothing lands without one.
    Base.metadata.create_all(db.engine, checkfirst=True)
    yield db
    db.engine.dispose()


def pytest_sessionstart(session: pytest.Session) -> None:
    """CI installs the Debian programs some tests drive (a second redis-server to stop and
    freeze); locally those tests skip without them, in CI a missing one fails the run."""
    import shutil

    if os.environ.get("CURBSIDE_TEST_REDIS_SERVER", "").lower() == "required" and \
            shutil.which("redis-server") is None:
        pytest.exit("CURBSIDE_TEST_REDIS_SERVER=required but redis-server is not installed",
                    returncode=1)
