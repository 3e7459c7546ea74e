"""The tamper-evident audit log: one event vocabulary, a hash chain, signed checkpoints.

Import from here; the modules behind it are implementation details. See docs/audit.md.
"""

from hub.audit.checkpoint import ChainBrokenError, write_checkpoint
from hub.audit.erasure import ErasureResult, erase_older_than, erase_subject
from hub.audit.errors import (
    AuditConflictError,
    AuditDetailError,
    AuditError,
    AuditRangeError,
    CheckpointKeyError,
    UnknownEventError,
)
from hub.audit.events import AuditEvent, get_event, register_event, registered_events
from hub.audit.export import export, iter_records, parse_range
from hub.audit.keyconfig import signing_key, verification_keys
from hub.audit.keys import CheckpointKey, Ed25519CheckpointKey, HmacCheckpointKey
from hub.audit.log import AppendedRecord, acquire_append_lock, append
from hub.audit.shipped import ShippedCheckpoint, ShippedCheckpointError, read_shipped, ship
from hub.audit.signing import Checkpoint
from hub.audit.verify import ChainProblem, VerifyReport, verify_chain

__all__ = [
    "AppendedRecord",
    "AuditConflictError",
    "AuditDetailError",
    "AuditError",
    "AuditEvent",
    "AuditRangeError",
    "ChainBrokenError",
    "ChainProblem",
    "Checkpoint",
    "CheckpointKey",
    "CheckpointKeyError",
    "Ed25519CheckpointKey",
    "ErasureResult",
    "HmacCheckpointKey",
    "ShippedCheckpoint",
    "ShippedCheckpointError",
    "UnknownEventError",
    "VerifyReport",
    "acquire_append_lock",
    "append",
    "erase_older_than",
    "erase_subject",
    "export",
    "get_event",
    "iter_records",
    "parse_range",
    "read_shipped",
    "register_event",
    "registered_events",
    "ship",
    "signing_key",
    "verification_keys",
    "verify_chain",
    "write_checkpoint",
]
