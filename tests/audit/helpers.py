"""Helpers for the audit tests: filling the log, and tampering with it the way an attacker
with DDL rights would (around the append-only triggers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from hub.audit import AuditEvent, append
from hub.persistence.db import Database
from hub.persistence.models.audit import RECORDS, append_only_ddl


def tamper(db: Database, sql: str, **params: Any) -> None:
    """Run raw SQL with the append-only triggers out of the way, then put them back."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            for name in ("audit_records", "audit_checkpoints"):
                for op in ("update", "delete"):
                    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}_no_{op}")
            conn.execute(text(sql), params)
            for stmt in append_only_ddl("sqlite"):
                conn.exec_driver_sql(stmt)
        else:
            for name in ("audit_records", "audit_checkpoints"):
                conn.exec_driver_sql(f"ALTER TABLE {name} DISABLE TRIGGER USER")
            conn.execute(text(sql), params)
            for name in ("audit_records", "audit_checkpoints"):
                conn.exec_driver_sql(f"ALTER TABLE {name} ENABLE TRIGGER USER")


T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def fill(
    db: Database, n: int, *, start: datetime | None = None, step: timedelta = timedelta(minutes=1)
) -> None:
    """n records one ``step`` apart from T0 (or after the last record), every third with
    personal data of doctor ``d<i % 4>``."""
    if start is None:
        with db.engine.connect() as conn:
            last = conn.execute(select(func.max(RECORDS.c.occurred_at))).scalar()
        start = T0 if last is None else last + step
    for i in range(n):
        personal = {"email": f"doc{i % 4}@example.org"} if i % 3 == 0 else None
        append(
            db,
            AuditEvent.DOCTOR_CONSENT_GRANT,
            actor=f"doctor:d{i % 4}",
            client_id="rp-alpha",
            address="198.51.100.7" if personal else None,
            personal=personal,
            subject=f"d{i % 4}" if personal else None,
            detail={"n": i, "scope": "openid profile"},
            occurred_at=start + i * step,
        )
