"""What a checkpoint signs, and which stored checkpoints can be trusted."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from hub.audit.chain import format_time
from hub.audit.detail import canonical_json
from hub.audit.keys import CheckpointKey
from hub.persistence.models.audit import CHECKPOINTS

# A domain prefix, so a checkpoint signature can never be replayed as any other signature
# made with the same key.
CHECKPOINT_DOMAIN = b"curbside-audit-checkpoint/v1\n"


@dataclass(frozen=True)
class Checkpoint:
    id: int
    seq: int
    record_hash: str
    created_at: datetime
    algorithm: str
    key_id: str
    signature: str

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "seq": self.seq,
            "hash": self.record_hash,
            "time": format_time(self.created_at),
            "alg": self.algorithm,
            "kid": self.key_id,
            "signature": self.signature,
        }


def checkpoint_message(
    *, seq: int, record_hash: str, created_at: datetime, algorithm: str, key_id: str
) -> bytes:
    body = {
        "alg": algorithm,
        "hash": record_hash,
        "kid": key_id,
        "seq": seq,
        "time": format_time(created_at),
    }
    return CHECKPOINT_DOMAIN + canonical_json(body).encode("ascii")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def load_checkpoints(conn: Connection) -> list[Checkpoint]:
    t = CHECKPOINTS.c
    rows = conn.execute(
        select(t.id, t.seq, t.record_hash, t.created_at, t.algorithm, t.key_id, t.signature).order_by(t.id)
    )
    return [Checkpoint(*row) for row in rows]


def signature_problem(cp: Checkpoint, keys: Sequence[CheckpointKey]) -> str | None:
    """None when ``cp`` is signed by one of ``keys``; else what is wrong, for the report."""
    key = next((k for k in keys if k.key_id == cp.key_id and k.algorithm == cp.algorithm), None)
    where = f"checkpoint #{cp.id} (seq {cp.seq})"
    if key is None:
        # Not merely "unverified": an attacker could relabel a checkpoint to dodge the check.
        return (
            f"{where} is signed by an unknown {cp.algorithm} key {cp.key_id!r} "
            "(pass every key still in use, including retired ones)"
        )
    signature = _b64url_decode(cp.signature)
    message = checkpoint_message(
        seq=cp.seq,
        record_hash=cp.record_hash,
        created_at=cp.created_at,
        algorithm=cp.algorithm,
        key_id=cp.key_id,
    )
    if signature is None or not key.verify(message, signature):
        return f"{where} has an invalid signature: the checkpoint was altered or forged"
    return None
