"""Fixtures for the verification tests: a database per backend with our tables, emptied
before each test (the backend itself lives for the whole session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from hub.persistence.db import Database
from hub.persistence.models import registers as models
from tests.verification_flows.registers import FakeRegisters

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
def _schema(database: Database) -> Iterator[Database]:
    """The migrated test database (the register tables come from the Alembic migration)."""
    yield database


TEST_DOCTORS = [f"doc{i}" for i in range(1, 10)]


@pytest.fixture
def db(_schema: Database) -> Database:
    from hub.persistence.models.accounts import Doctor

    with _schema.engine.begin() as conn:
        for table in reversed(TABLES):
            conn.execute(delete(table))
    with _schema.session() as s:  # the accounts the tests verify (foreign keys)
        for doctor_id in TEST_DOCTORS:
            if s.get(Doctor, doctor_id) is None:
                s.add(Doctor(id=doctor_id, email=f"{doctor_id}@verification.test"))
    return _schema


@pytest.fixture
def fixture_path() -> object:
    def path(name: str) -> str:
        return str(FIXTURES / name)

    return path


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeRegisters]:
    """Live registers (BIG, NPPES) as real HTTP servers on 127.0.0.1, one set per module;
    the hub reaches them through its endpoint settings."""
    f = FakeRegisters()
    yield f
    f.close()
