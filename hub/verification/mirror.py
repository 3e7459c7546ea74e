"""The register mirror: RegisterEntry <-> ``register_records`` rows, batched idempotent
upserts (INSERT .. ON CONFLICT on PostgreSQL and SQLite alike) and lookups."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.models.registers import RegisterImport, RegisterRecord
from hub.verification.base import EntryStatus, RegisterEntry

_T = RegisterRecord.__table__
_KEY = ("register", "number")
_CHUNK = 900  # bound parameters per IN (...) query


def _hash(entry: RegisterEntry) -> str:
    payload = [
        entry.family_name,
        entry.given_names,
        entry.name_prefix,
        list(entry.alt_family_names),
        entry.profession,
        entry.profession_code,
        list(entry.specialties),
        entry.registered_since.isoformat() if entry.registered_since else None,
        entry.status.value,
        entry.status_detail,
        entry.extra,
    ]
    raw = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()


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


def _insert_for(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def upsert_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update; a row whose hash did not change is not written at all."""
    if not rows:
        return
    stmt = _insert_for(conn)(_T)
    changed = {c.name: stmt.excluded[c.name] for c in _T.columns if c.name not in _KEY}
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_KEY), set_=changed, where=_T.c.row_hash != stmt.excluded.row_hash
    )
    conn.execute(stmt, list(rows))


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


def lookup(session: Session, register: str, number: str) -> tuple[RegisterEntry, datetime] | None:
    """The mirrored entry and the time its data was last confirmed: the later of the row's
    own write and the last completed import of that register."""
    row = session.execute(
        select(_T).where(_T.c.register == register, _T.c.number == number)
    ).first()
    if row is None:
        return None
    last_import = session.execute(
        select(RegisterImport.finished_at)
        .where(RegisterImport.register == register, RegisterImport.status == "done")
        .order_by(RegisterImport.finished_at.desc())
        .limit(1)
    ).scalar()
    as_of = row.updated_at
    if last_import is not None and last_import > as_of:
        as_of = last_import
    return row_to_entry(row), as_of
