"""Database schema management through Alembic (used by ``hub db upgrade`` and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from hub.persistence.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    if db.is_sqlite and db.url.startswith("sqlite:///"):
        Path(db.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class SchemaOutOfDate(RuntimeError):
    """The database is not at the schema this code needs (see ``require_current``)."""


def require_current(db: Database) -> None:
    """Refuse to serve on a database that ``hub db upgrade`` has not brought up to date.

    New code on an old schema would fail request by request (a sign-in needs the audit
    function of migration 0005, for instance); failing at start says what to do instead.
    """
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    found = current(db)
    if found != head:
        raise SchemaOutOfDate(
            f"the database schema is at {found or 'nothing'}, this hub needs {head}: "
            "run 'hub db upgrade' with the same CURBSIDE_DATABASE_URL, then start again")
