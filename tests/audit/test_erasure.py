"""Erasure and retention remove personal values while the chain stays verifiable."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from hub.audit import (
    AuditRangeError,
    Ed25519CheckpointKey,
    erase_older_than,
    erase_subject,
    export,
    verify_chain,
    write_checkpoint,
)
from hub.persistence.db import Database
from hub.persistence.models.audit import AuditPersonalData, AuditRecord

from .helpers import T0, fill


def _dump(db: Database) -> str:
    """Every stored value of the audit tables, as text, to search for leftovers."""
    with db.engine.connect() as conn:
        parts = []
        for table in ("audit_records", "audit_personal_data"):
            parts += [repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(parts)


def _export(db: Database) -> list[dict[str, object]]:
    out = io.StringIO()
    export(db, None, None, "jsonl", out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_erasure_removes_values_and_keeps_the_chain(db: Database) -> None:
    fill(db, 24)  # doc1's personal data is on records 10 and 22
    key = Ed25519CheckpointKey.generate()
    write_checkpoint(db, key)
    assert "doc1@example.org" in _dump(db)

    result = erase_subject(db, "d1", actor="admin:7")

    assert result.records == 2 and result.audit_seq == 25
    assert "doc1@example.org" not in _dump(db)
    assert "doc0@example.org" in _dump(db)  # other doctors untouched
    report = verify_chain(db, verify_key=key)
    assert report.ok, str(report)
    assert report.records == 25
    with db.session() as s:
        erased = s.scalars(select(AuditPersonalData).where(AuditPersonalData.seq.in_([10, 22]))).all()
        assert {(p.data, p.salt, p.subject, p.pseudonym) for p in erased} == {
            (None, None, None, result.pseudonym)
        }
        logged = s.get(AuditRecord, 25)
    assert logged is not None and logged.event == "audit:personal_data:erase"
    assert json.loads(logged.detail) == {
        "records": 2,
        "pseudonym": result.pseudonym,
        "reason": "erasure_request",
    }
    rows = {r["seq"]: r for r in _export(db)}
    assert rows[10]["erased"] is True and rows[10]["address"] is None
    assert rows[10]["personal"] is None and rows[10]["pseudonym"] == result.pseudonym
    assert rows[1]["personal"] == {"email": "doc0@example.org"}


def test_erasure_is_idempotent(db: Database) -> None:
    fill(db, 24)
    assert erase_subject(db, "d0").records == 2
    again = erase_subject(db, "d0")
    assert again.records == 0 and again.audit_seq is None
    assert verify_chain(db).records == 25  # only the first erasure was logged


def test_erased_record_cannot_be_silently_refilled(db: Database) -> None:
    """Putting data back after erasure needs a salt that opens the old commitment."""
    fill(db, 3)
    erase_subject(db, "d0")
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_personal_data SET data = :d, salt = :s, erased_at = NULL WHERE seq = 1"),
            {"d": '{"email":"someone@else.test"}', "s": b"\0" * 32},
        )
    report = verify_chain(db)
    assert report.problem is not None and report.problem.seq == 1
    assert report.problem.kind == "personal_data"


def test_retention_erases_only_old_records(db: Database) -> None:
    fill(db, 30, step=timedelta(days=1))  # one record a day from T0
    now = T0 + timedelta(days=30)
    count = erase_older_than(db, 10, now=now, batch=3)  # small batches: several transactions
    # Records older than 10 days: days 0..19; personal data on every third → 7 of them.
    assert count == 7
    with db.session() as s:
        rows = s.execute(
            select(AuditRecord.seq, AuditRecord.occurred_at, AuditPersonalData.erased_at).join(
                AuditPersonalData, AuditPersonalData.seq == AuditRecord.seq
            )
        ).all()
    for seq, occurred_at, erased_at in rows:
        assert (erased_at is not None) == (occurred_at < now - timedelta(days=10)), seq
    report = verify_chain(db)
    assert report.ok and report.records == 31  # plus the retention record
    assert erase_older_than(db, 10, now=now) == 0


@pytest.mark.parametrize("days", [-1, True])
def test_retention_refuses_bad_days(db: Database, days: int) -> None:
    with pytest.raises(AuditRangeError):
        erase_older_than(db, days)
