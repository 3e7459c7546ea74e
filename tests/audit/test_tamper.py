"""Tampering by raw SQL is caught, and the report names the first bad record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text

from hub.audit import Ed25519CheckpointKey, verify_chain, write_checkpoint
from hub.audit.chain import record_hash
from hub.persistence.db import Database
from hub.persistence.models.audit import RECORDS

from .helpers import T0, fill, tamper


@pytest.fixture
def chain(db: Database) -> Database:
    fill(db, 60)
    assert verify_chain(db).ok
    return db


def _problem(db: Database) -> tuple[int, str, str]:
    report = verify_chain(db)
    assert not report.ok
    assert report.problem is not None
    return report.problem.seq, report.problem.kind, report.problem.message


def _rehash(db: Database, seq: int, *, new_seq: int | None = None, prev_hash: str | None = None) -> str:
    """What an attacker computes to make a moved or altered row look self-consistent."""
    r = RECORDS.c
    with db.engine.connect() as conn:
        row = conn.execute(select(RECORDS).where(r.seq == seq)).one()
    return record_hash(
        seq=new_seq or row.seq,
        prev_hash=prev_hash or row.prev_hash,
        occurred_at=row.occurred_at,
        event=row.event,
        actor=row.actor,
        client_id=row.client_id,
        detail=row.detail,
        personal=row.personal_commitment,
    )


def _delete(db: Database, where: str) -> None:
    """Delete records the way an attacker must: their personal data first (foreign key)."""
    tamper(db, f"DELETE FROM audit_personal_data WHERE {where}")
    tamper(db, f"DELETE FROM audit_records WHERE {where}")


def test_changed_detail_is_named(chain: Database) -> None:
    tamper(chain, "UPDATE audit_records SET detail = :d WHERE seq = 42", d='{"n":41,"scope":"x"}')
    assert _problem(chain) == (42, "changed", "record 42 was changed")


def test_changed_event_and_actor_are_named(chain: Database) -> None:
    tamper(chain, "UPDATE audit_records SET actor = 'doctor:d9' WHERE seq = 7")
    tamper(chain, "UPDATE audit_records SET event = 'auth:login:success' WHERE seq = 30")
    assert _problem(chain)[:2] == (7, "changed")  # the first one


def test_change_with_recomputed_hash_names_the_changed_record(chain: Database) -> None:
    tamper(chain, "UPDATE audit_records SET actor = 'doctor:d9' WHERE seq = 20")
    tamper(chain, "UPDATE audit_records SET hash = :h WHERE seq = 20", h=_rehash(chain, 20))
    seq, kind, message = _problem(chain)
    assert (seq, kind) == (20, "changed")
    assert "hash was recomputed" in message


def test_deleted_record_is_a_seq_gap(chain: Database) -> None:
    _delete(chain, "seq = 43")
    assert _problem(chain) == (43, "missing", "record 43 is missing (seq gap)")


def test_several_deleted_records(chain: Database) -> None:
    _delete(chain, "seq IN (11, 12, 13)")
    assert _problem(chain) == (11, "missing", "records 11 to 13 are missing (seq gap)")


def test_first_record_deleted(chain: Database) -> None:
    _delete(chain, "seq = 1")
    assert _problem(chain)[:2] == (1, "missing")


def test_deletion_hidden_by_renumbering(chain: Database) -> None:
    # Records with personal data are referenced by seq, so pick a stretch without them.
    tamper(chain, "DELETE FROM audit_records WHERE seq = 59")
    tamper(chain, "UPDATE audit_records SET seq = 59 WHERE seq = 60")
    seq, kind, message = _problem(chain)
    assert (seq, kind) == (59, "missing")
    assert "renumbered" in message


def test_inserted_record_is_named_between_its_neighbours(chain: Database) -> None:
    # Make room at 59 by moving 59 and 60 up (in two steps: seq is unique), then slip a
    # forged record in with a self-consistent hash.
    tamper(chain, "UPDATE audit_records SET seq = seq + 1000 WHERE seq >= 59")
    tamper(chain, "UPDATE audit_records SET seq = seq - 999 WHERE seq >= 1000")
    forged = {
        "seq": 59,
        "t": "2024-05-01 12:58:30.000000",
        "ev": "doctor:consent:revoke",
        "prev": "f" * 64,
        "h": "e" * 64,
    }
    tamper(
        chain,
        "INSERT INTO audit_records (seq, occurred_at, event, actor, client_id, detail, "
        "personal_commitment, prev_hash, hash) VALUES (:seq, :t, :ev, 'doctor:d1', 'rp-alpha', "
        "'{}', NULL, :prev, :h)",
        **forged,
    )
    seq, kind, message = _problem(chain)
    assert (seq, kind) == (59, "inserted")
    assert message.startswith("a record was inserted between 58 and 59")


@pytest.mark.parametrize("consistent", [True, False])
def test_inserted_record_relinked_by_the_attacker(chain: Database, consistent: bool) -> None:
    # The intruder chains onto 58 and the moved record onto the intruder; with
    # ``consistent`` the intruder's own hash is even computed correctly.
    tamper(chain, "UPDATE audit_records SET seq = seq + 1000 WHERE seq >= 59")
    tamper(chain, "UPDATE audit_records SET seq = seq - 999 WHERE seq >= 1000")
    with chain.engine.connect() as conn:
        h58 = conn.execute(text("SELECT hash FROM audit_records WHERE seq = 58")).scalar_one()
    when = T0 + timedelta(minutes=57, seconds=30)
    intruder = {
        "seq": 59, "occurred_at": when, "event": "doctor:consent:revoke", "actor": "doctor:d1",
        "client_id": None, "detail": "{}", "personal_commitment": None, "prev_hash": h58,
    }  # fmt: skip
    h_x = record_hash(**{k: v for k, v in intruder.items() if k != "personal_commitment"},
                      personal=None) if consistent else "b" * 64  # fmt: skip
    # prev_hash is unique: free h58 first by pointing the moved record at the intruder.
    tamper(chain, "UPDATE audit_records SET prev_hash = :p WHERE seq = 60", p=h_x)
    with chain.engine.begin() as conn:
        conn.execute(insert(RECORDS), {**intruder, "hash": h_x})
    seq, kind, message = _problem(chain)
    assert (seq, kind) == (59, "inserted")
    assert message.startswith("a record was inserted between 58 and 59")


def test_forged_record_at_the_end(chain: Database) -> None:
    tamper(
        chain,
        "INSERT INTO audit_records (seq, occurred_at, event, actor, client_id, detail, "
        "personal_commitment, prev_hash, hash) VALUES (61, '2024-05-01 13:30:00', "
        "'admin:session:revoke', 'admin:1', NULL, '{}', NULL, :prev, :h)",
        prev="c" * 64,
        h="d" * 64,
    )
    seq, kind, message = _problem(chain)
    assert (seq, kind) == (61, "inserted")
    assert "does not chain to record 60" in message


def test_changed_personal_data_is_named(chain: Database) -> None:
    tamper(chain, "UPDATE audit_personal_data SET data = :d WHERE seq = 4", d='{"email":"x@evil"}')
    assert _problem(chain) == (4, "personal_data", "personal data of record 4 was changed")


def test_personal_data_deleted_outside_erasure(chain: Database) -> None:
    tamper(chain, "DELETE FROM audit_personal_data WHERE seq = 10")
    assert _problem(chain)[:2] == (10, "personal_data")


def test_full_rewrite_is_caught_by_the_signed_checkpoint(chain: Database) -> None:
    key = Ed25519CheckpointKey.generate()
    write_checkpoint(chain, key)
    # Rewrite record 50 and re-chain everything after it: the chain alone looks perfect.
    tamper(chain, "UPDATE audit_records SET actor = 'doctor:d9' WHERE seq = 50")
    prev: str | None = None
    for seq in range(50, 61):
        new = _rehash(chain, seq, prev_hash=prev)
        tamper(chain, "UPDATE audit_records SET hash = :h WHERE seq = :s", h=new, s=seq)
        if seq < 60:
            tamper(chain, "UPDATE audit_records SET prev_hash = :h WHERE seq = :s", h=new, s=seq + 1)
        prev = new
    report = verify_chain(chain, verify_key=key)
    assert report.problem is not None
    assert report.problem.kind == "rewritten"
    assert "records 1 to 60 were rewritten" in report.problem.message


def test_cut_off_tail_is_caught_by_the_checkpoint(chain: Database) -> None:
    key = Ed25519CheckpointKey.generate()
    write_checkpoint(chain, key)
    _delete(chain, "seq >= 58")
    report = verify_chain(chain, verify_key=key)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (58, "truncated")
    assert "records after 57 are missing" in report.problem.message


def test_reserialised_but_equal_detail_is_not_a_change(chain: Database) -> None:
    """E.g. a migration to a JSON column that re-spaces the text: same object, same hash."""
    tamper(
        chain, "UPDATE audit_records SET detail = :d WHERE seq = 8", d='{ "scope": "openid profile", "n": 7 }'
    )
    assert verify_chain(chain).ok
