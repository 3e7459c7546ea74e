"""The hub's services as one typed record: what every entry point hands to the code it runs.

Built only by the composition root (hub/composition.py: ``build_hub``), each service once;
nothing here builds, looks up or swaps a service. Code that needs a service reads the
typed attribute (``hub.links``, ``hub.access``, ``hub.queue``...); something that must
happen when the domain acts subscribes to ``hub.events`` in the composition root.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.audit.trail import AuditTrail
from hub.domain.access import AccessPolicy
from hub.domain.accounts import Accounts
from hub.domain.clients import Client, ClientRegistry
from hub.domain.crypto import HubSecrets
from hub.domain.events import DoctorSessionsEnded, Events
from hub.domain.federation import Federation
from hub.domain.id_tokens import IdTokens
from hub.domain.keys import KeyRing
from hub.domain.passkeys import Passkeys
from hub.domain.sessions import Sessions
from hub.domain.subjects import subject_for
from hub.domain.tokens import TokenService
from hub.links.service import Links
from hub.ops.health import Readiness
from hub.outbound import Outbound
from hub.persistence.db import Database
from hub.persistence.store import Store
from hub.relying.policy import PolicyStore
from hub.settings import Settings
from hub.verification.base import Verifier
from hub.worker import Queue


@dataclass(eq=False)
class Hub:
    settings: Settings
    db: Database
    store: Store
    secrets: HubSecrets
    keys: KeyRing
    clients: ClientRegistry
    tokens: TokenService
    accounts: Accounts
    sessions: Sessions
    # Every request the hub itself makes goes out through a session from here.
    outbound: Outbound
    events: Events
    audit: AuditTrail
    id_tokens: IdTokens
    policies: PolicyStore
    # Asked at /authorize, /token (refresh) and /userinfo (hub/domain/access.py).
    access: AccessPolicy
    # Register lookups; built once, so their circuit breakers outlive a request.
    verifiers: dict[str, Verifier]
    # OIDC Discovery 1.0 §3: the provider metadata, with what each feature declares.
    discovery_metadata: Mapping[str, Any]
    readiness: Readiness
    # Services that act for the whole hub (they are handed the record itself).
    # OpenID Federation: the hub's entity, its trust anchors and automatic registrations.
    federation: Federation
    # WebAuthn credentials: passwordless sign-in and a second factor (hub/pages/passkeys.py).
    passkeys: Passkeys
    links: Links = field(init=False)
    queue: Queue = field(init=False)

    def subject(self, doctor_id: str, client: Client) -> str:
        return subject_for(doctor_id, subject_type=client.subject_type,
                           sector=client.sector_identifier, salt=self.secrets.pairwise_salt)

    def end_doctor_sessions(self, doctor_id: str, *, reason: str, actor: str | None = None,
                            note: str | None = None, address: str | None = None) -> list[str]:
        """End a doctor's SSO sessions and revoke every grant (tokens die at once).

        Used by the doctor ("sign out everywhere"), by admins and on licence withdrawal.
        Publishes :class:`~hub.domain.events.DoctorSessionsEnded` once: the audit trail and
        back-channel logout to partner networks listen. ``reason`` is a short code stored on
        each grant; ``note`` is an admin's free-text reason.
        """
        self.sessions.end_all_for(doctor_id)
        revoked = self.tokens.revoke_grants_of(doctor_id, reason=reason)
        self.events.publish(DoctorSessionsEnded(doctor_id, tuple(revoked), reason, actor=actor,
                                                note=note, address=address))
        return revoked

    def audit_event(self, event: str, *, actor: str | None = None, doctor_id: str | None = None,
                    client_id: str | None = None, address: str | None = None,
                    audited_write: tuple[Any, Mapping[str, Any]] | None = None,
                    **detail: Any) -> None:
        """Append a security event to the audit log (see :meth:`AuditTrail.event`)."""
        self.audit.event(event, actor=actor, doctor_id=doctor_id, client_id=client_id,
                         address=address, audited_write=audited_write, **detail)
