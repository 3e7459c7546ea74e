"""The hub's way of writing to the audit log: one call per security event.

``AuditTrail.event`` is what services call (through ``hub.audit_event``); the listeners
below turn domain events (hub/domain/events.py) into audit records, subscribed once in the
composition root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.audit.log import append
from hub.domain.events import DoctorSessionsEnded
from hub.persistence.db import Database


class AuditTrail:
    def __init__(self, db: Database) -> None:
        self.db = db

    def event(self, event: str, *, actor: str | None = None, doctor_id: str | None = None,
              client_id: str | None = None, address: str | None = None,
              audited_write: tuple[Any, Mapping[str, Any]] | None = None,
              **detail: Any) -> None:
        """Append a security event to the hash-chained audit log (hub/audit).

        ``doctor_id`` is both the actor (unless another is named) and the erasure subject;
        ``address`` is personal data, kept outside the chain. ``audited_write`` is the
        statement the event records, committed with it (hub.audit.append's ``after``).
        """
        append(self.db, event, actor=actor or doctor_id, client_id=client_id, address=address,
               subject=doctor_id, after=audited_write,
               detail={k: v for k, v in detail.items() if v is not None} or None)

    def sessions_ended(self, ended: DoctorSessionsEnded) -> None:
        """An admin's ending names who asked and why; any other is the hub revoking grants."""
        self.event("admin:session:revoke" if ended.actor else "oidc:grant:revoke",
                   actor=ended.actor, doctor_id=ended.doctor_id, address=ended.address,
                   doctor=ended.doctor_id, reason=ended.note or ended.reason,
                   reason_kind=None if ended.note is None else ended.reason,
                   grants=len(ended.grant_ids))
