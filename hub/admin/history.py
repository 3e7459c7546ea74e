"""A doctor's audit history: records the doctor did, records about the doctor.

A record belongs to a doctor when the doctor is its actor (doctor events use the account id,
or ``doctor:<id>``), when its personal data names the doctor as erasure subject, or when an
admin action names the doctor in its detail (``"doctor": <id>``; the console always does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from hub.admin.search import ESCAPE, like_contains
from hub.persistence.db import Database
from hub.persistence.models.audit import PERSONAL_DATA, RECORDS

HISTORY_LIMIT = 100


@dataclass(frozen=True)
class HistoryRecord:
    seq: int
    occurred_at: datetime
    event: str
    actor: str | None
    client_id: str | None
    detail: dict[str, Any]


def doctor_history(db: Database, doctor_id: str, *, limit: int = HISTORY_LIMIT) -> list[HistoryRecord]:
    """The newest ``limit`` records about the doctor, newest first."""
    r, p = RECORDS.c, PERSONAL_DATA.c
    # Canonical detail JSON is compact with sorted keys, so the member is spelt exactly so.
    named = like_contains(json.dumps({"doctor": doctor_id}, separators=(",", ":"))[1:-1])
    stmt = (
        select(r.seq, r.occurred_at, r.event, r.actor, r.client_id, r.detail)
        .select_from(RECORDS.outerjoin(PERSONAL_DATA, p.seq == r.seq))
        .where(or_(r.actor == doctor_id, r.actor == f"doctor:{doctor_id}", p.subject == doctor_id,
                   r.detail.like(named, escape=ESCAPE)))
        .order_by(r.seq.desc())
        .limit(limit)
    )
    with db.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [HistoryRecord(row.seq, row.occurred_at, row.event, row.actor, row.client_id,
                          json.loads(row.detail)) for row in rows]
