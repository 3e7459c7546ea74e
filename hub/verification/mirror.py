"""The register mirror: RegisterEntry <-> ``register_records`` rows, batched idempotent
upserts (INSERT .. ON CONFLICT on PostgreSQL and SQLite alike) and lookups."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Table, exists, func, select
from sqlalchemy.orm import Session

from hub.persistence.db import utcnow
from hub.persistence.models.registers import RegisterImport, RegisterRecord
from hub.verification.base import EntryStatus, RegisterEntry

_T = cast(Table, RegisterRecord.__table__)
_KEY = ("register", "number")
_CHUNK = 900  # bound parameters per IN (...) query


def _hash(entry: RegisterEntry) -> str:
    # repr of plain str/list/dict/None values is stable for equal content (dict order is
    # the order the register module builds it in, which is fixed).
    payload = (
        entry.family_name,
        entry.given_names,
        entry.name_prefix,
        tuple(entry.alt_family_names),
        entry.profession,
        entry.profession_code,
        tuple(entry.specialties),
        entry.registered_since.isoformat() if entry.registered_since else None,
        entry.status.value,
        entry.status_detail,
        sorted(entry.extra.items()),
    )
    return hashlib.sha1(repr(payload).encode(), usedforsecurity=False).hexdigest()


def entry_to_row(entry: RegisterEntry, *, source: str, now: datetime) -> dict[str, Any]:
    return {
        "register": entry.register,
        "number": entry.number,
        "family_name": entry.family_name,
        "given_names": entry.given_names,
        "name_prefix": entry.name_prefix,
        "alt_family_names": list(entry.alt_family_names),
        "profession": entry.profession,
        "profession_code": entry.profession_code,
        "specialties": list(entry.specialties),
        "registered_since": entry.registered_since,
        "status": entry.status.value,
        "status_detail": entry.status_detail[:200],
        "extra": dict(entry.extra),
        "row_hash": _hash(entry),
        "source": source[:40],
        "updated_at": now,
    }


def row_to_entry(row: Any) -> RegisterEntry:
    since = row.registered_since
    if isinstance(since, datetime):
        since = since.date()
    return RegisterEntry(
        register=row.register,
        number=row.number,
        family_name=row.family_name,
        given_names=row.given_names,
        profession=row.profession,
        status=EntryStatus(row.status),
        profession_code=row.profession_code,
        name_prefix=row.name_prefix,
        alt_family_names=tuple(row.alt_family_names or ()),
        specialties=tuple(row.specialties or ()),
        registered_since=since if isinstance(since, date) else None,
        status_detail=row.status_detail,
        extra=dict(row.extra or {}),
    )


_COLUMNS = [c.name for c in _T.columns]
_JSON_COLUMNS = frozenset({"alt_family_names", "specialties", "extra"})


@lru_cache(maxsize=4)
def _upsert_sql(dialect: str) -> str:
    """INSERT .. ON CONFLICT DO UPDATE .. WHERE the row changed: the same statement on
    PostgreSQL and SQLite (3.24+). Written out once, then run with the driver's
    executemany: mirror imports write millions of rows and per-row ORM/Core parameter
    processing would dominate the import time."""
    sqlite = dialect == "sqlite"
    cols = ", ".join(f'"{c}"' for c in _COLUMNS)
    marks = ", ".join("?" if sqlite else ("%s::json" if c in _JSON_COLUMNS else "%s") for c in _COLUMNS)
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in _COLUMNS if c not in _KEY)
    # Only identifiers from our own table metadata are interpolated; values are bound.
    return (
        f"INSERT INTO {_T.name} ({cols}) VALUES ({marks}) "  # noqa: S608
        f'ON CONFLICT ("register", "number") DO UPDATE SET {sets} '
        f'WHERE {_T.name}."row_hash" <> excluded."row_hash"'
    )


def _json(value: Any) -> str:
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=8)
def _sqlite_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_date(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None  # the format SQLAlchemy reads back


def _same(v: Any) -> Any:
    return v


def _converters(sqlite: bool) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for c in _COLUMNS:
        if c in _JSON_COLUMNS:
            out.append((c, _json))
        elif sqlite and c == "registered_since":
            out.append((c, _sqlite_date))
        elif sqlite and c == "updated_at":
            out.append((c, _sqlite_time))
        else:
            out.append((c, _same))
    return out


_CONVERT = {True: _converters(True), False: _converters(False)}


def _driver_values(row: dict[str, Any], sqlite: bool) -> tuple[Any, ...]:
    return tuple([convert(row[c]) for c, convert in _CONVERT[sqlite]])


def upsert_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update; a row whose hash did not change is not written at all."""
    if not rows:
        return
    dialect = conn.dialect.name
    sqlite = dialect == "sqlite"
    conn.exec_driver_sql(_upsert_sql(dialect), [_driver_values(r, sqlite) for r in rows])


def existing(conn: Connection, register: str, numbers: Iterable[str]) -> dict[str, Any]:
    """The current rows for these numbers, by number."""
    found: dict[str, Any] = {}
    numbers = list(dict.fromkeys(numbers))
    for i in range(0, len(numbers), _CHUNK):
        chunk = numbers[i : i + _CHUNK]
        stmt = select(_T).where(_T.c.register == register, _T.c.number.in_(chunk))
        for row in conn.execute(stmt):
            found[row.number] = row
    return found


def store_entries(session: Session, entries: Sequence[RegisterEntry], *, source: str) -> None:
    """Write entries obtained by a live lookup into the mirror (a cache for outages)."""
    now = utcnow()
    upsert_rows(session.connection(), [entry_to_row(e, source=source, now=now) for e in entries])


def _last_import(register: str) -> Any:
    return (
        select(func.max(RegisterImport.finished_at))
        .where(RegisterImport.register == register, RegisterImport.status == "done")
        .scalar_subquery()
    )


def lookup(db: Session | Connection, register: str, number: str) -> tuple[RegisterEntry, datetime] | None:
    """The mirrored entry and the time its data was last confirmed: the later of the row's
    own write and the last completed import of that register. One round trip."""
    stmt = select(_T, _last_import(register).label("last_import")).where(
        _T.c.register == register, _T.c.number == number
    )
    row = db.execute(stmt).first()
    if row is None:
        return None
    as_of = row.updated_at
    last = row.last_import
    if last is not None:
        last = last if isinstance(last, datetime) else datetime.fromisoformat(str(last))
        last = last if last.tzinfo else last.replace(tzinfo=UTC)
        as_of = max(as_of, last)
    return row_to_entry(row), as_of


def has_entries(db: Session | Connection, register: str) -> bool:
    return bool(db.execute(select(exists().where(_T.c.register == register))).scalar())
