"""Initial access tokens (RFC 7591 §3) as invitations.

An admin issues a token for ``POST /register``; a network it registers starts ``pending``
until an admin reviews it, unless the issuing admin approved in advance: a token minted
with approval (``hub client initial-token --approved``, or the console's networks page)
registers networks that are ``active`` at once, so an invited network signs doctors in
without a second admin step. The approval is recorded in the audit log as the issuing
admin's, at the moment the network registers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from hub.audit import append
from hub.domain.crypto import new_token, sha256_hex
from hub.persistence.db import utcnow
from hub.persistence.models.clients import ClientRecord
from hub.persistence.models.relying import InitialAccessToken

if TYPE_CHECKING:
    from hub.services import Hub


def issue_initial_token(hub: Hub, *, label: str = "", ttl: int = 7 * 86400, uses: int = 1,
                        actor: str = "cli", operator_id: str | None = None,
                        approved: bool = False, reason: str | None = None) -> str:
    """A Bearer token for POST /register; shown once, stored as its SHA-256 with the
    approval it carries."""
    token = new_token(32)
    with hub.db.session() as s:
        s.add(InitialAccessToken(token_hash=sha256_hex(token), label=label[:200], created_by=actor[:100],
                                 expires_at=utcnow() + timedelta(seconds=ttl), uses_left=max(uses, 1),
                                 operator_id=operator_id, approved=approved))
    hub.audit_event("client:initial_token:issue", actor=actor, label=label or None, uses=uses, ttl=ttl,
                    approved=approved, reason=reason)
    return token


def admit_registration(hub: Hub, token_hash: str, client_id: str) -> str:
    """The status of a client just registered (``pending``) with the initial access token
    whose SHA-256 is ``token_hash``: ``active`` when the token carried approval, the
    approval audited as the issuing admin's; else ``pending``, for an admin to review."""
    with hub.db.session() as s:
        token = s.get(InitialAccessToken, token_hash)
        if token is None or not token.approved:
            return "pending"
        approved = s.execute(update(ClientRecord)
                             .where(ClientRecord.client_id == client_id, ClientRecord.status == "pending")
                             .values(status="active")).rowcount  # type: ignore[attr-defined]
        if approved != 1:
            return "pending"
        # The event an admin's approval in the console writes, by the admin who issued the token.
        append(s, "client:registration:approved", actor=token.created_by, client_id=client_id,
               detail={"reason": "invited: the initial access token carried approval",
                       "status": "active", "previous": "pending", "via": "initial_access_token",
                       **({"invitation": token.label} if token.label else {})})
    hub.clients.forget(client_id)
    return "active"
