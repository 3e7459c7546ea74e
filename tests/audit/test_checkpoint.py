"""Signed checkpoints: written, verified, and tampering with them is caught."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from hub.audit import (
    ChainBrokenError,
    CheckpointKey,
    CheckpointKeyError,
    Ed25519CheckpointKey,
    HmacCheckpointKey,
    verify_chain,
    write_checkpoint,
)
from hub.persistence.db import Database
from hub.persistence.models.audit import AuditCheckpoint

from .helpers import fill, tamper

KEYS: dict[str, Callable[[], CheckpointKey]] = {
    "ed25519": Ed25519CheckpointKey.generate,
    "hmac": lambda: HmacCheckpointKey.derive("the hub's secret key"),
}


@pytest.fixture(params=sorted(KEYS))
def key(request: pytest.FixtureRequest) -> CheckpointKey:
    return KEYS[request.param]()


def test_checkpoint_signs_the_newest_record(db: Database, key: CheckpointKey) -> None:
    assert write_checkpoint(db, key) is None  # nothing to sign yet
    fill(db, 10)
    cp = write_checkpoint(db, key)
    assert cp is not None and cp.seq == 10 and cp.key_id == key.key_id
    fill(db, 5)
    cp2 = write_checkpoint(db, key)
    assert cp2 is not None and cp2.seq == 15
    report = verify_chain(db, verify_key=key)
    assert report.ok and report.checkpoints == 2 and report.signatures_checked


@pytest.mark.parametrize(
    ("column", "value"),
    [("seq", 5), ("record_hash", "0" * 64), ("created_at", "2030-01-01 00:00:00")],
)
def test_altered_checkpoint_fails_its_signature(
    db: Database, key: CheckpointKey, column: str, value: object
) -> None:
    fill(db, 10)
    cp = write_checkpoint(db, key)
    assert cp is not None
    tamper(db, f"UPDATE audit_checkpoints SET {column} = :v WHERE id = :id", v=value, id=cp.id)
    report = verify_chain(db, verify_key=key)
    assert not report.ok
    assert report.checkpoint_problems == [
        f"checkpoint #{cp.id} (seq {value if column == 'seq' else 10}) has an invalid "
        "signature: the checkpoint was altered or forged"
    ]


def test_forged_signature_and_unknown_key(db: Database, key: CheckpointKey) -> None:
    fill(db, 4)
    cp = write_checkpoint(db, key)
    assert cp is not None
    bad = base64.urlsafe_b64encode(b"\0" * 64).decode().rstrip("=")
    tamper(db, "UPDATE audit_checkpoints SET signature = :s WHERE id = :id", s=bad, id=cp.id)
    assert "invalid signature" in verify_chain(db, verify_key=key).checkpoint_problems[0]
    other = Ed25519CheckpointKey.generate()
    problems = verify_chain(db, verify_key=other).checkpoint_problems
    assert "unknown" in problems[0] and cp.key_id in problems[0]


def test_untrusted_checkpoint_is_not_used_to_judge_records(db: Database, key: CheckpointKey) -> None:
    """A forged checkpoint must not make good records look rewritten (only itself is bad)."""
    fill(db, 4)
    cp = write_checkpoint(db, key)
    assert cp is not None
    tamper(db, "UPDATE audit_checkpoints SET record_hash = :h WHERE id = :id", h="1" * 64, id=cp.id)
    report = verify_chain(db, verify_key=key)
    assert report.problem is None and len(report.checkpoint_problems) == 1
    # Without a key the stored checkpoint is taken at its word, and disagrees with record 4.
    unsigned = verify_chain(db)
    assert unsigned.problem is not None and unsigned.problem.kind == "rewritten"


def test_no_checkpoint_over_a_broken_chain(db: Database, key: CheckpointKey) -> None:
    fill(db, 10)
    write_checkpoint(db, key)
    fill(db, 5)
    tamper(db, "UPDATE audit_records SET actor = 'doctor:x' WHERE seq = 12")
    with pytest.raises(ChainBrokenError, match="record 12 was changed"):
        write_checkpoint(db, key)
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditCheckpoint)).scalar() == 1


def test_checkpoint_verifies_from_the_last_anchor_only(db: Database, key: CheckpointKey) -> None:
    """The periodic job reads what is new, so an old change is left to the full verify."""
    fill(db, 10)
    write_checkpoint(db, key)
    tamper(db, "UPDATE audit_records SET actor = 'doctor:x' WHERE seq = 3")
    fill(db, 2)
    assert write_checkpoint(db, key) is not None
    report = verify_chain(db, verify_key=key)
    assert report.problem is not None and report.problem.seq == 3


def test_change_at_the_anchor_itself_is_caught(db: Database, key: CheckpointKey) -> None:
    fill(db, 10)
    write_checkpoint(db, key)
    tamper(db, "UPDATE audit_records SET actor = 'doctor:x' WHERE seq = 10")
    with pytest.raises(ChainBrokenError, match="record 10 was changed"):
        write_checkpoint(db, key)


def test_ed25519_public_key_verifies_but_cannot_sign(db: Database) -> None:
    private = Ed25519CheckpointKey.generate()
    public = Ed25519CheckpointKey.from_pem(private.public_pem())
    assert public.key_id == private.key_id and not public.can_sign
    fill(db, 3)
    write_checkpoint(db, private)
    assert verify_chain(db, verify_key=public).ok
    with pytest.raises(CheckpointKeyError):
        write_checkpoint(db, public)
    round_trip = Ed25519CheckpointKey.from_pem(private.private_pem())
    assert round_trip.key_id == private.key_id and round_trip.can_sign


def test_rotated_keys_verify_together(db: Database) -> None:
    old, new = Ed25519CheckpointKey.generate(), HmacCheckpointKey(b"k" * 32)
    fill(db, 3)
    write_checkpoint(db, old)
    fill(db, 3)
    write_checkpoint(db, new)
    assert verify_chain(db, verify_key=[old, new]).ok
    assert not verify_chain(db, verify_key=new).ok  # the old checkpoint needs the old key


def test_key_errors_are_readable() -> None:
    with pytest.raises(CheckpointKeyError, match="at least 32 bytes"):
        HmacCheckpointKey(b"short")
    with pytest.raises(CheckpointKeyError, match="cannot read"):
        Ed25519CheckpointKey.from_pem(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(CheckpointKeyError, match="no secret"):
        HmacCheckpointKey.derive("")
