"""Appending: the chain links up, commits with the caller, and the tables are append-only."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from hub.audit import AuditError, AuditEvent, UnknownEventError, append, verify_chain
from hub.audit.chain import GENESIS_HASH, record_hash
from hub.persistence.db import Database, utcnow
from hub.persistence.models.audit import RECORDS, AuditPersonalData, AuditRecord

from .helpers import T0


def test_records_chain_onto_each_other(db: Database) -> None:
    first = append(db, AuditEvent.AUTH_LOGIN_SUCCESS, actor="doctor:1", client_id="rp-1")
    second = append(db, "doctor:link:add", actor="doctor:1", detail={"network": "medbook"})
    assert (first.seq, second.seq) == (1, 2)
    with db.session() as s:
        rows = s.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
    assert rows[0].prev_hash == GENESIS_HASH and rows[1].prev_hash == first.hash
    assert rows[1].hash == second.hash
    # The documented hash recipe, recomputed from the stored row.
    assert second.hash == record_hash(
        seq=2,
        prev_hash=first.hash,
        occurred_at=rows[1].occurred_at,
        event="doctor:link:add",
        actor="doctor:1",
        client_id=None,
        detail='{"network":"medbook"}',
        personal=None,
    )
    assert verify_chain(db).ok


def test_unknown_event_is_refused_before_writing(db: Database) -> None:
    with pytest.raises(UnknownEventError):
        append(db, "doctor:link:ad", actor="doctor:1")
    assert verify_chain(db).records == 0


def test_append_in_the_callers_session_commits_and_rolls_back_with_it(db: Database) -> None:
    with db.session() as s:
        append(s, AuditEvent.DOCTOR_CONSENT_GRANT, actor="doctor:1", client_id="rp-1")
    with pytest.raises(RuntimeError), db.session() as s:
        append(s, AuditEvent.DOCTOR_CONSENT_REVOKE, actor="doctor:1", client_id="rp-1")
        raise RuntimeError("the caller's own change failed")
    after = append(db, AuditEvent.DOCTOR_CONSENT_REVOKE, actor="doctor:1", client_id="rp-1")
    assert after.seq == 2  # the rolled-back record left no gap
    report = verify_chain(db)
    assert report.ok and report.records == 2


def test_personal_data_is_stored_outside_the_chain(db: Database) -> None:
    rec = append(
        db,
        AuditEvent.AUTH_LOGIN_FAILURE,
        actor=None,
        address="203.0.113.9",
        personal={"email": "a.jansen@example.nl"},
        subject="doctor:42",
        detail={"reason": "bad_password"},
    )
    with db.session() as s:
        row = s.get(AuditRecord, rec.seq)
        personal = s.get(AuditPersonalData, rec.seq)
    assert row is not None and personal is not None
    assert "example.nl" not in row.detail and row.personal_commitment is not None
    assert json.loads(personal.data or "") == {
        "address": "203.0.113.9",
        "email": "a.jansen@example.nl",
    }
    assert personal.subject == "doctor:42" and len(personal.salt or b"") == 32
    assert verify_chain(db).ok


def test_times_never_go_backwards(db: Database) -> None:
    append(db, AuditEvent.AUTH_LOGIN_SUCCESS, actor="d", occurred_at=T0)
    with pytest.raises(AuditError, match="earlier"):
        append(db, AuditEvent.AUTH_LOGIN_SUCCESS, actor="d", occurred_at=T0 - timedelta(seconds=1))


def test_a_record_appended_now_never_predates_the_tail(db: Database) -> None:
    future = append(db, AuditEvent.AUTH_LOGIN_SUCCESS, actor="d",
                    occurred_at=utcnow() + timedelta(hours=1))
    now = append(db, AuditEvent.AUTH_LOGIN_SUCCESS, actor="d")
    assert now.occurred_at == future.occurred_at
    assert verify_chain(db).ok


def test_every_writer_extends_the_same_verifiable_chain(db: Database) -> None:
    # On PostgreSQL standalone appends run inside the database (hub/persistence/models/audit.py) while
    # session and explicit-time appends build the record in Python; one chain either way.
    append(db, AuditEvent.AUTH_LOGIN_SUCCESS, actor="doctor:1", detail={"note": "caf\u00e9 \"x\""})
    with db.session() as s:
        append(s, AuditEvent.DOCTOR_CONSENT_GRANT, actor="doctor:1", client_id="rp-1")
    append(db, AuditEvent.AUTH_LOGIN_FAILURE, actor=None, address="203.0.113.9",
           personal={"email": "a@example.nl"}, subject="doctor:1")
    append(db, AuditEvent.AUTH_LOGIN_SUCCESS, actor="doctor:1",
           occurred_at=utcnow() + timedelta(seconds=1))
    last = append(db, AuditEvent.AUTH_LOGIN_SUCCESS, actor="doctor:1", client_id="rp-2")
    with db.session() as s:
        row = s.get(AuditRecord, last.seq)
    assert row is not None and (row.seq, row.hash, row.occurred_at) == (
        last.seq, last.hash, last.occurred_at)
    report = verify_chain(db)
    assert report.ok and report.records == 5, str(report)


def test_an_audited_write_commits_with_its_record_or_not_at_all(db: Database) -> None:
    write = text("INSERT INTO store_entries (kind, key, value, counter, expires_at) "
                 "VALUES ('audit-test', :key, :value, 0, 0)")
    stored = text("SELECT count(*) FROM store_entries WHERE kind = 'audit-test'")
    append(db, AuditEvent.DOCTOR_CONSENT_GRANT, actor="doctor:1",
           after=(write, {"key": "k1", "value": b"x"}))
    with pytest.raises(IntegrityError):  # the same key again: the write fails...
        append(db, AuditEvent.DOCTOR_CONSENT_GRANT, actor="doctor:1",
               after=(write, {"key": "k1", "value": b"y"}))
    with db.engine.connect() as conn:
        assert conn.execute(stored).scalar_one() == 1
    report = verify_chain(db)
    assert report.ok and report.records == 1  # ...and leaves no record behind


@pytest.mark.parametrize(
    "sql",
    ["UPDATE audit_records SET actor = 'x'", "DELETE FROM audit_records"],
)
def test_records_table_refuses_update_and_delete(db: Database, sql: str) -> None:
    append(db, AuditEvent.AUTH_LOGIN_SUCCESS, actor="doctor:1")
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text(sql))


def test_unique_prev_hash_is_a_second_guard_against_forks(db: Database) -> None:
    first = append(db, AuditEvent.AUTH_LOGIN_SUCCESS, actor="doctor:1")
    append(db, AuditEvent.AUTH_LOGIN_SUCCESS, actor="doctor:1")
    # A writer that skipped the lock and chained onto record 1 again is refused.
    with pytest.raises(DBAPIError), db.engine.begin() as conn:
        conn.execute(
            insert(RECORDS),
            {
                "seq": 3, "occurred_at": T0, "event": "auth:login:success", "actor": "x",
                "client_id": None, "detail": "{}", "personal_commitment": None,
                "prev_hash": first.hash, "hash": "0" * 64,
            },
        )  # fmt: skip
