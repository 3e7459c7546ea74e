"""Whether optional tables exist yet: verification tables arrive with their own migration,
and the console must work (showing "not available") on a database that lacks them."""

from __future__ import annotations

from sqlalchemy import inspect

from hub.persistence.db import Database

_present: dict[tuple[str, str], bool] = {}


def has_table(db: Database, name: str) -> bool:
    key = (db.url, name)
    if _present.get(key):
        return True  # tables are never dropped at runtime; a missing one is re-checked
    found = inspect(db.engine).has_table(name)
    _present[key] = found
    return found
