"""Fresh audit tables per test, on both backends (helpers live in helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.persistence.db import Base, Database
from hub.persistence.models.audit import AUDIT_TABLES


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    """The migrated test database with the audit tables emptied (recreated) for this test."""
    def reset() -> None:
        Base.metadata.drop_all(database.engine, tables=list(AUDIT_TABLES))
        Base.metadata.create_all(database.engine, tables=list(AUDIT_TABLES))

    reset()
    yield database
    # Leave an empty log behind: tampered records or checkpoints signed by a throwaway key
    # would make a later test's verification (the admin console's) report tampering.
    reset()
