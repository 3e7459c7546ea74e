"""The Alembic migrations create exactly the schema the models describe, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import hub.persistence.models  # noqa: F401
from hub.persistence.db import Base, Database
from hub.persistence.schema import SchemaOutOfDate, require_current, upgrade


def test_migrations_match_the_models(backend: Any, tmp_path: Any) -> None:
    if backend.name == "sqlite":
        db = Database(f"sqlite:///{tmp_path}/fresh.db")
    else:
        schema = "mig_" + tmp_path.name[-8:].replace("-", "_").lower()
        admin = sa.create_engine(backend.database_url.split("?")[0])
        with admin.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        db = Database(backend.database_url.split("?")[0] + f"?options=-csearch_path%3D{schema}")
    try:
        upgrade(db)
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                    Base.metadata)
        assert diff == [], f"models and migrations differ; write a migration: {diff}"
    finally:
        db.engine.dispose()
        if backend.name != "sqlite":
            with admin.begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def test_a_hub_refuses_to_serve_on_a_schema_behind_its_code(tmp_path: Any) -> None:
    db = Database(f"sqlite:///{tmp_path}/old.db")
    try:
        with pytest.raises(SchemaOutOfDate, match="nothing.*run 'hub db upgrade'"):
            require_current(db)
        upgrade(db, "0004")
        with pytest.raises(SchemaOutOfDate, match=r"at 0004, this hub needs \w+"):
            require_current(db)
        upgrade(db)
        require_current(db)
    finally:
        db.engine.dispose()
