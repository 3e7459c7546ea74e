"""Export: the right records for a range, both formats, streamed, malformed ranges refused."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from hub.audit import AuditError, AuditRangeError, export
from hub.persistence.db import Database

from .helpers import T0, fill


@pytest.fixture
def hour(db: Database) -> Database:
    fill(db, 60)  # 12:00 .. 12:59, one a minute
    return db


def _jsonl(db: Database, start: Any, end: Any, **kw: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    count = export(db, start, end, "jsonl", out, **kw)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(lines)
    return lines


def test_range_is_start_inclusive_end_exclusive(hour: Database) -> None:
    rows = _jsonl(hour, "2024-05-01T12:10:00Z", "2024-05-01T12:20:00Z")
    assert [r["seq"] for r in rows] == list(range(11, 21))
    assert rows[0]["time"] == "2024-05-01T12:10:00.000000Z"


def test_offsets_and_dates_are_understood(hour: Database) -> None:
    # 14:30+02:00 is 12:30Z; a bare date is midnight UTC; no offset means UTC.
    assert [r["seq"] for r in _jsonl(hour, "2024-05-01T14:30:00+02:00", "2024-05-02")] == list(range(31, 61))
    assert len(_jsonl(hour, "2024-05-01T12:00", "2024-05-01T12:01")) == 1
    assert _jsonl(hour, None, None)[-1]["seq"] == 60
    assert _jsonl(hour, "2024-05-02", None) == []


def test_jsonl_record_shape(hour: Database) -> None:
    first = _jsonl(hour, T0, T0 + timedelta(minutes=1))[0]
    assert first == {
        "seq": 1,
        "time": "2024-05-01T12:00:00.000000Z",
        "event": "doctor:consent:grant",
        "actor": "doctor:d0",
        "client_id": "rp-alpha",
        "address": "198.51.100.7",
        "personal": {"email": "doc0@example.org"},
        "erased": False,
        "pseudonym": None,
        "detail": {"n": 0, "scope": "openid profile"},
        "prev_hash": "0" * 64,
        "hash": first["hash"],
    }


def test_csv_export(hour: Database) -> None:
    out = io.StringIO()
    assert export(hour, "2024-05-01T12:00Z", "2024-05-01T12:05Z", "csv", out) == 5
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["seq"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[0]["address"] == "198.51.100.7" and rows[1]["address"] == ""
    assert json.loads(rows[0]["detail"]) == {"n": 0, "scope": "openid profile"}


def test_csv_cells_cannot_become_spreadsheet_formulas(db: Database) -> None:
    from hub.audit import AuditEvent, append

    append(db, AuditEvent.ADMIN_ACCESS_DENIED, actor="=HYPERLINK(1)", detail={"path": "-x"})
    out = io.StringIO()
    export(db, None, None, "csv", out)
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["actor"] == "'=HYPERLINK(1)"


def test_export_streams_in_batches(hour: Database) -> None:
    """The query runs with a streaming cursor (server-side on PostgreSQL)."""
    seen: list[dict[str, Any]] = []

    def spy(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "FROM audit_records" in statement:
            seen.append(dict(context.execution_options))
            if hour.engine.dialect.name == "postgresql":
                assert type(cursor).__name__ == "ServerCursor"

    event.listen(hour.engine, "before_cursor_execute", spy)
    try:
        rows = _jsonl(hour, None, None, batch=7)
    finally:
        event.remove(hour.engine, "before_cursor_execute", spy)
    assert len(rows) == 60
    assert seen and seen[0].get("stream_results") is True and seen[0].get("yield_per") == 7


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("yesterday", None, "start 'yesterday' is not an ISO 8601 date or time"),
        ("2024-05-01", "2024-13-01", "end '2024-13-01' is not an ISO 8601"),
        ("2024-05-01T25:00", None, "not an ISO 8601"),
        ("", None, "not an ISO 8601"),
        ("2024-05-02", "2024-05-01", "the range starts after it ends"),
        ("2024-05-01T12:00:00-01:00", "2024-05-01T12:30:00Z", "starts after it ends"),
    ],
)
def test_malformed_ranges_are_refused(hour: Database, start: Any, end: Any, message: str) -> None:
    out = io.StringIO()
    with pytest.raises(AuditRangeError, match=message):
        export(hour, start, end, "jsonl", out)
    assert out.getvalue() == ""


def test_unknown_format_is_refused(hour: Database) -> None:
    with pytest.raises(AuditError, match="unknown export format"):
        export(hour, None, None, "xml", io.StringIO())
