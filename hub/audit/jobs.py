"""The worker's periodic checkpoint (``hub.worker`` runs it every
``CURBSIDE_AUDIT_CHECKPOINT_INTERVAL`` seconds as ``function(hub)``).

Without it, checkpoints exist only if someone schedules ``hub audit checkpoint``, and then
deleting the newest records goes unnoticed. Each checkpoint is also logged as one JSON line
and, with ``CURBSIDE_AUDIT_CHECKPOINT_LOG``, appended to a file, so a copy outlives the
database (docs/audit.md, "Checkpoints outside the database").
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from hub.audit.checkpoint import ChainBrokenError, write_checkpoint
from hub.audit.errors import CheckpointKeyError
from hub.audit.keyconfig import signing_key
from hub.audit.shipped import checkpoint_line, ship
from hub.audit.signing import Checkpoint

log = logging.getLogger("hub.audit.checkpoint")

JOB = "hub.audit.jobs:write_scheduled_checkpoint"


def write_scheduled_checkpoint(hub: Any) -> Checkpoint | None:
    """Sign the newest record, log the checkpoint and ship it; never raises (a worker job).

    A broken chain is logged at ERROR with the first problem and nothing is signed, so the
    alert fires at the next run after the tampering rather than at the next daily verify.
    """
    settings = hub.settings
    try:
        key = signing_key(settings, hub.secrets.secret_key)
    except CheckpointKeyError as exc:
        log.error("audit checkpoint not written: %s", exc)
        return None
    if key is None:
        log.error("audit checkpoint not written: no checkpoint key (set CURBSIDE_AUDIT_CHECKPOINT_KEY_FILE)")
        return None
    try:
        cp = write_checkpoint(hub.db, key)
    except ChainBrokenError as exc:
        log.error("audit log TAMPERED: %s", exc)
        return None
    except SQLAlchemyError as exc:
        log.error("audit checkpoint not written: database error %s", exc.__class__.__name__)
        return None
    if cp is None:
        return None
    line = checkpoint_line(cp)
    log.info("audit checkpoint %s", line)
    path = settings.audit_checkpoint_log
    if path:
        try:
            ship(cp, Path(path))
        except OSError as exc:
            # The checkpoint is stored and logged; a lost file copy must be noticed, not fatal.
            log.error("audit checkpoint not shipped to %s: %s", path, exc.strerror)
    return cp
