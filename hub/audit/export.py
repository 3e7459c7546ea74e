"""Export a time range as JSON Lines or CSV, streaming: rows go from a server-side cursor
to ``out`` in batches, so a year of records never sits in memory at once."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from sqlalchemy import Row, select

from hub.audit.chain import format_time
from hub.audit.errors import AuditError, AuditRangeError
from hub.persistence.db import Database
from hub.persistence.models.audit import PERSONAL_DATA, RECORDS

ExportFormat = Literal["jsonl", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")
BATCH = 1000
CSV_COLUMNS = (
    "seq", "time", "event", "actor", "client_id", "address", "personal", "erased",
    "pseudonym", "detail", "prev_hash", "hash",
)  # fmt: skip
# A spreadsheet would run a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def parse_time(value: str | datetime | None, what: str) -> datetime | None:
    """ISO 8601 date or date-time; a value without an offset is taken as UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise AuditRangeError(f"{what} must be timezone-aware")
        return value.astimezone(UTC)
    if not isinstance(value, str):
        raise AuditRangeError(f"{what} must be an ISO 8601 string or a datetime")
    text = value.strip()
    try:
        # Python 3.11 reads dates, date-times, offsets and 'Z'.
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise AuditRangeError(
            f"{what} {value!r} is not an ISO 8601 date or time "
            "(for example 2024-05-01 or 2024-05-01T13:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_range(
    start: str | datetime | None, end: str | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """Start is inclusive, end exclusive; either may be open (None)."""
    s, e = parse_time(start, "start"), parse_time(end, "end")
    if s is not None and e is not None and s > e:
        raise AuditRangeError(
            f"the range starts after it ends: start {format_time(s)} is after end {format_time(e)}"
        )
    return s, e


def export(
    db: Database,
    start: str | datetime | None,
    end: str | datetime | None,
    fmt: ExportFormat | str,
    out: TextIO,
    *,
    batch: int = BATCH,
) -> int:
    """Write records with ``start <= time < end`` to ``out``; returns how many were written."""
    if fmt not in FORMATS:
        raise AuditError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    s, e = parse_range(start, end)
    count = 0
    with db.engine.connect() as conn:
        rows = conn.execute(_query(s, e, batch))
        if fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(CSV_COLUMNS)
            for row in rows:
                record = _as_dict(row)
                writer.writerow([_csv_cell(record[c]) for c in CSV_COLUMNS])
                count += 1
        else:
            for row in rows:
                out.write(json.dumps(_as_dict(row), ensure_ascii=False, separators=(",", ":")))
                out.write("\n")
                count += 1
    return count


def _query(start: datetime | None, end: datetime | None, batch: int) -> Any:
    r = RECORDS.c
    p = PERSONAL_DATA.c
    stmt = select(
        r.seq,
        r.occurred_at,
        r.event,
        r.actor,
        r.client_id,
        r.detail,
        r.prev_hash,
        r.hash,
        p.data,
        p.erased_at,
        p.pseudonym,
    ).select_from(  # fmt: skip
        RECORDS.outerjoin(PERSONAL_DATA, p.seq == r.seq)
    )
    if start is not None:
        stmt = stmt.where(r.occurred_at >= start)
    if end is not None:
        stmt = stmt.where(r.occurred_at < end)
    # yield_per: a server-side cursor on PostgreSQL, fetched batch by batch.
    return stmt.order_by(r.seq).execution_options(yield_per=batch)


def _as_dict(row: Row[Any]) -> dict[str, Any]:
    personal: dict[str, str] | None = json.loads(row.data) if row.data is not None else None
    address = personal.pop("address", None) if personal else None
    return {
        "seq": row.seq,
        "time": format_time(row.occurred_at),
        "event": row.event,
        "actor": row.actor,
        "client_id": row.client_id,
        "address": address,
        "personal": personal or None,
        "erased": row.erased_at is not None,
        "pseudonym": row.pseudonym,
        "detail": json.loads(row.detail),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def iter_records(
    db: Database, start: datetime | None = None, end: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """The same rows as ``export`` as dicts (for the admin console); streams too."""
    with db.engine.connect() as conn:
        for row in conn.execute(_query(start, end, BATCH)):
            yield _as_dict(row)
