"""Relying parties as the console sees them, and the status changes an admin can make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from hub.audit import append
from hub.persistence.models.clients import ClientRecord
from hub.persistence.models.federation import FederationRegistration
from hub.persistence.models.grants import Grant
from hub.relying import backchannel, policy

STATUSES = ("pending", "active", "suspended")


class TransitionError(ValueError):
    """The client is not in a state this action applies to."""


@dataclass
class ClientRow:
    client_id: str
    name: str
    status: str
    redirect_uris: list[str]
    created_at: datetime
    active_grants: int
    policy: Any = None  # hub.relying.policy.StoredPolicy in force, or None
    delivery: dict[str, Any] | None = None  # hub.relying.backchannel.delivery_status
    last_failure: dict[str, Any] | None = None  # the newest failed delivery among the recent ones
    # How a network that joined by OpenID Federation was admitted (None for the others).
    federation: FederationRegistration | None = None


def list_clients(hub: Any) -> list[ClientRow]:
    with hub.db.session() as s:
        grants = dict(s.execute(select(Grant.client_id, func.count()).where(Grant.revoked_at.is_(None))
                                .group_by(Grant.client_id)).all())
        recs = s.scalars(select(ClientRecord).order_by(ClientRecord.status, ClientRecord.created_at)).all()
        rows = [ClientRow(r.client_id, str(r.client_metadata.get("client_name") or r.client_id), r.status,
                          _strings(r.client_metadata.get("redirect_uris")), r.created_at,
                          grants.get(r.client_id, 0)) for r in recs]
        joined = {r.client_id: r for r in s.scalars(select(FederationRegistration))}
        for r in joined.values():
            s.expunge(r)
    for row in rows:
        row.federation = joined.get(row.client_id)
        _relying_facts(hub, row)
    return rows


def _relying_facts(hub: Any, row: ClientRow) -> None:
    """The policy version in force and the back-channel logout delivery status (read-only)."""
    row.policy = policy.store(hub).current(row.client_id)
    row.delivery = backchannel.delivery_status(hub.db, row.client_id, recent=20)
    row.last_failure = next((d for d in row.delivery["recent"] if d["status"] == "failed"), None)


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def change_status(hub: Any, client_id: str, to: str, *, actor: str, reason: str, address: str) -> str:
    """Move a client to ``active`` (approve) or ``suspended``; returns the previous status.

    Events: approving is client:registration:approved; suspending a pending client is its
    rejection (client:registration:rejected); suspending an active one is an update.
    """
    allowed_from = {"active": ("pending", "suspended"), "suspended": ("pending", "active")}[to]
    with hub.db.session() as s:
        rec = s.get(ClientRecord, client_id)
        if rec is None:
            raise LookupError(client_id)
        previous: str = rec.status
        if previous not in allowed_from:
            raise TransitionError(f"this network is {previous}; it cannot become {to}")
        rec.status = to
        if to == "active":
            event = "client:registration:approved"
        elif previous == "pending":
            event = "client:registration:rejected"
        else:
            event = "client:registration:update"
        append(s, event, actor=actor, client_id=client_id, address=address,
               detail={"reason": reason, "status": to, "previous": previous})
    # The registry caches clients; forget this one so the new status applies at once.
    hub.clients.forget(client_id)
    return previous
