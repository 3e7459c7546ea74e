"""Erasure requests and retention: personal data leaves, the chain stays verifiable.

The chain hashes only a salted commitment to a record's personal data (see chain.py).
Erasing deletes the data *and* the salt, leaving a pseudonym: the commitment can no longer
be opened or brute-forced, yet every record hash still verifies. Each erasure is itself
recorded, so the log shows that (and when) data was removed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Update, select, update

from hub.audit.chain import format_time
from hub.audit.errors import AuditRangeError
from hub.audit.events import AuditEvent
from hub.audit.log import acquire_append_lock, append
from hub.persistence.db import Database, utcnow
from hub.persistence.models.audit import PERSONAL_DATA, RECORDS

RETENTION_BATCH = 1000
EXPIRED_PSEUDONYM = "expired"


@dataclass(frozen=True)
class ErasureResult:
    records: int
    pseudonym: str
    audit_seq: int | None  # the record that logs this erasure (None when nothing was erased)


def _erase(now: datetime, pseudonym: str) -> Update:
    return update(PERSONAL_DATA).values(
        subject=None, salt=None, data=None, erased_at=now, pseudonym=pseudonym
    )


def erase_subject(
    db: Database, subject: str, *, actor: str = "system", pseudonym: str | None = None
) -> ErasureResult:
    """Erase every personal value recorded for ``subject`` (a doctor's account id).

    The records keep their place in the chain; their personal data is replaced by one
    pseudonym, the same for all of them so an admin can still tell they belonged together.
    """
    if not subject:
        raise ValueError("subject must be the doctor's account id")
    pseudonym = pseudonym or "erased-" + secrets.token_hex(6)
    p = PERSONAL_DATA.c
    with db.session() as session:
        # Lock first: on SQLite this opens the write transaction before anything is read.
        conn = session.connection()
        acquire_append_lock(conn)
        count = conn.execute(
            _erase(utcnow(), pseudonym).where(p.subject == subject, p.erased_at.is_(None)),
        ).rowcount
        if count == 0:
            return ErasureResult(0, pseudonym, None)
        logged = append(
            session,
            AuditEvent.AUDIT_PERSONAL_DATA_ERASE,
            actor=actor,
            detail={"records": count, "pseudonym": pseudonym, "reason": "erasure_request"},
        )
    return ErasureResult(count, pseudonym, logged.seq)


def erase_older_than(
    db: Database,
    days: int,
    *,
    now: datetime | None = None,
    actor: str = "system",
    batch: int = RETENTION_BATCH,
) -> int:
    """Retention: erase personal data of records older than ``days``; returns how many.

    Works in batches of short transactions so it never holds the write lock for long.
    """
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise AuditRangeError("retention days must be a whole number of days, 0 or more")
    cutoff = (now or utcnow()) - timedelta(days=days)
    total = 0
    while True:
        with db.engine.connect() as conn:
            done = _expire_batch(conn, cutoff, batch)
            conn.commit()
        total += done
        if done < batch:
            break
    if total:
        append(
            db,
            AuditEvent.AUDIT_PERSONAL_DATA_EXPIRE,
            actor=actor,
            detail={"records": total, "before": format_time(cutoff), "days": days},
        )
    return total


def _expire_batch(conn: Connection, cutoff: datetime, batch: int) -> int:
    p = PERSONAL_DATA.c
    r = RECORDS.c
    due = (
        select(p.seq)
        .join(RECORDS, r.seq == p.seq)
        .where(p.erased_at.is_(None), r.occurred_at < cutoff)
        .order_by(p.seq)
        .limit(batch)
    )
    stmt = _erase(utcnow(), EXPIRED_PSEUDONYM).where(p.seq.in_(due.scalar_subquery()))
    return conn.execute(stmt).rowcount
