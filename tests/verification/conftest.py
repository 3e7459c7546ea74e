"""Fixtures for the verification tests: a database per backend with our tables, emptied
before each test (the backend itself lives for the whole session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from hub.db import Base, Database
from hub.models import registers as models

FIXTURES = Path(__file__).parent / "fixtures"

TABLES = [
    models.RegisterRecord.__table__,
    models.RegisterImport.__table__,
    models.RegisterSnapshotKey.__table__,
    models.DoctorRegistration.__table__,
    models.VerificationCheck.__table__,
    models.IdentityEvidence.__table__,
]


@pytest.fixture(scope="session")
def _schema(backend) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    db = Database(backend.database_url)
    Base.metadata.create_all(db.engine, tables=TABLES)
    yield db
    db.engine.dispose()


@pytest.fixture
def db(_schema: Database) -> Database:
    with _schema.engine.begin() as conn:
        for table in reversed(TABLES):
            conn.execute(delete(table))
    return _schema


@pytest.fixture
def fixture_path() -> object:
    def path(name: str) -> str:
        return str(FIXTURES / name)

    return path
