"""Writing signed checkpoints.

A checkpoint signs "record ``seq`` has hash ``h``". It pins everything up to ``seq``: a
later rewrite of that stretch (even with every hash recomputed) or a cut-off tail shows
up in ``verify_chain``. Before signing, the records since the newest checkpoint this key
trusts are verified, so a checkpoint never blesses a chain that is already broken; that
keeps the periodic job cheap (it reads only what is new).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert

from hub.audit.errors import AuditError
from hub.audit.keys import CheckpointKey
from hub.audit.signing import (
    Checkpoint,
    b64url,
    checkpoint_message,
    load_checkpoints,
    signature_problem,
)
from hub.audit.verify import verify_on
from hub.persistence.db import Database, utcnow
from hub.persistence.models.audit import CHECKPOINTS


class ChainBrokenError(AuditError):
    """The chain is broken; no checkpoint was written. The message names the first problem."""


def write_checkpoint(db: Database, key: CheckpointKey, *, now: datetime | None = None) -> Checkpoint | None:
    """Verify the records since the last checkpoint and sign the newest one.

    Returns the new checkpoint, or None when the log is still empty. Raises
    :class:`ChainBrokenError` instead of signing a broken chain.
    """
    with db.engine.connect() as conn:
        mine = [cp for cp in load_checkpoints(conn) if signature_problem(cp, [key]) is None]
        anchor = max(mine, key=lambda cp: (cp.seq, cp.id), default=None)
        report = verify_on(conn, keys=[key], anchor=anchor)
        if report.problem is not None:
            raise ChainBrokenError(f"refusing to sign a checkpoint: {report.problem.message}")
        if report.last_seq == 0:
            return None
        created_at = now or utcnow()
        message = checkpoint_message(
            seq=report.last_seq,
            record_hash=report.last_hash,
            created_at=created_at,
            algorithm=key.algorithm,
            key_id=key.key_id,
        )
        signature = b64url(key.sign(message))
        new_id = conn.execute(
            insert(CHECKPOINTS).returning(CHECKPOINTS.c.id),
            {
                "seq": report.last_seq,
                "record_hash": report.last_hash,
                "created_at": created_at,
                "algorithm": key.algorithm,
                "key_id": key.key_id,
                "signature": signature,
            },
        ).scalar_one()
        conn.commit()
    return Checkpoint(
        id=new_id,
        seq=report.last_seq,
        record_hash=report.last_hash,
        created_at=created_at,
        algorithm=key.algorithm,
        key_id=key.key_id,
        signature=signature,
    )
