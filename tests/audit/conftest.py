"""Fresh audit tables per test, on both backends (helpers live in helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.db import Base, Database
from hub.models.audit import AUDIT_TABLES


@pytest.fixture
def db(backend: Any) -> Iterator[Database]:
    database = Database(backend.database_url)
    Base.metadata.drop_all(database.engine, tables=list(AUDIT_TABLES))
    Base.metadata.create_all(database.engine, tables=list(AUDIT_TABLES))
    try:
        yield database
    finally:
        database.engine.dispose()
