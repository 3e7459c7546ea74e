"""The hub as trust anchor and trust-mark issuer for a federation of medical networks it
runs itself (OpenID Federation 1.0 sections 7 and 8): its subordinates with their metadata
policies, the subordinate statements its fetch endpoint answers, and the trust marks it
issues and revokes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

import federation
from federation import FederationError, InvalidRequest, NotFound
from hub.domain.crypto import sha256_hex
from hub.domain.federation import Federation
from hub.persistence.db import utcnow
from hub.persistence.models.federation import FederationSubordinate, FederationTrustMark

# Subordinate statements are re-fetched by resolvers after this (section 3: exp).
STATEMENT_LIFETIME = 24 * 3600
DEFAULT_TRUST_MARK_LIFETIME = 365 * 24 * 3600


@dataclass(frozen=True)
class Subordinate:
    entity_id: str
    entity_types: list[str]
    metadata_policy: dict[str, Any] | None
    jwks: dict[str, Any]


class FederationAuthority:
    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self.db = fed.db

    # -- subordinates -------------------------------------------------------------------
    def enrol(self, entity_id: str, *, metadata_policy: Mapping[str, Any] | None = None,
              jwks: Mapping[str, Any] | None = None) -> Subordinate:
        """Vouch for ``entity_id``. Without ``jwks`` its self-signed configuration is
        fetched (through the guarded client) and its keys and entity types taken from it."""
        if not federation.is_entity_identifier(entity_id) and not self.fed.is_federation_entity_id(entity_id):
            raise InvalidRequest(f"{entity_id!r} is not an entity identifier")
        if metadata_policy is not None:
            federation.validate_policy(metadata_policy, about="the metadata policy")
        types: list[str] = []
        if jwks is None:
            configuration = self.fed.resolver().entity_configuration(entity_id)
            jwks, types = dict(configuration.jwks), sorted(configuration.metadata)
        elif not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
            raise InvalidRequest("the subordinate's JWKS must be {\"keys\": [...]}")
        with self.db.session() as s:
            row = s.get(FederationSubordinate, entity_id)
            if row is None:
                row = FederationSubordinate(entity_id=entity_id)
                s.add(row)
            row.jwks = dict(jwks)
            row.metadata_policy = dict(metadata_policy) if metadata_policy else None
            row.entity_types = types
        return Subordinate(entity_id, types, dict(metadata_policy) if metadata_policy else None,
                           dict(jwks))

    def subordinates(self, entity_type: str | None = None) -> list[Subordinate]:
        with self.db.session() as s:
            rows = s.scalars(select(FederationSubordinate)
                             .order_by(FederationSubordinate.entity_id)).all()
            out = [Subordinate(r.entity_id, list(r.entity_types), r.metadata_policy, dict(r.jwks))
                   for r in rows]
        return [o for o in out if entity_type is None or entity_type in o.entity_types]

    def remove(self, entity_id: str) -> bool:
        with self.db.session() as s:
            row = s.get(FederationSubordinate, entity_id)
            if row is None:
                return False
            s.delete(row)
            return True

    def subordinate_statement(self, entity_id: str) -> str:
        """What the fetch endpoint answers (section 8.1.1); NotFound for a stranger."""
        with self.db.session() as s:
            row = s.get(FederationSubordinate, entity_id)
            if row is None:
                raise NotFound(f"{entity_id} is not a subordinate of this entity")
            jwks, policy = dict(row.jwks), row.metadata_policy
        return federation.build_subordinate_statement(
            self.fed.issuer, entity_id, key=self.fed.keys.signing_key(), subject_jwks=jwks,
            now=int(time.time()), lifetime=STATEMENT_LIFETIME, metadata_policy=policy,
            source_endpoint=f"{self.fed.issuer}/federation/fetch")

    # -- trust marks (section 7) -----------------------------------------------------------
    def issue_trust_mark(self, subject: str, trust_mark_type: str, *,
                         lifetime: int = DEFAULT_TRUST_MARK_LIFETIME) -> str:
        if not federation.is_entity_identifier(subject) and not self.fed.is_federation_entity_id(subject):
            raise InvalidRequest(f"{subject!r} is not an entity identifier")
        now = int(time.time())
        token = federation.build_trust_mark(issuer=self.fed.issuer, subject=subject,
                                            trust_mark_type=trust_mark_type,
                                            key=self.fed.keys.signing_key(), now=now,
                                            lifetime=lifetime or None)
        with self.db.session() as s:
            s.add(FederationTrustMark(
                id=sha256_hex(token), trust_mark_type=trust_mark_type, subject=subject, token=token,
                expires_at=datetime.fromtimestamp(now + lifetime, tz=UTC) if lifetime else None))
        return token

    def revoke_trust_marks(self, subject: str, trust_mark_type: str) -> int:
        with self.db.session() as s:
            rows = s.scalars(select(FederationTrustMark).where(
                FederationTrustMark.subject == subject,
                FederationTrustMark.trust_mark_type == trust_mark_type,
                FederationTrustMark.revoked_at.is_(None))).all()
            for r in rows:
                r.revoked_at = utcnow()
        if rows:
            self.fed.trust_mark_revoked(subject, trust_mark_type)
        return len(rows)

    def trust_marks(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(select(FederationTrustMark)
                             .order_by(FederationTrustMark.issued_at)).all()
            return [{"trust_mark_type": r.trust_mark_type, "sub": r.subject,
                     "issued_at": r.issued_at.isoformat(),
                     "expires_at": r.expires_at.isoformat() if r.expires_at else None,
                     "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None}
                    for r in rows]

    def trust_mark_types(self) -> list[str]:
        with self.db.session() as s:
            return sorted(set(s.scalars(select(FederationTrustMark.trust_mark_type)).all()))

    def trust_mark_status(self, token: str) -> str:
        """Section 8.4: active, expired, revoked, or invalid (not one this hub issued)."""
        return self.fed.own_trust_mark_status(token)

    # -- diagnosis ---------------------------------------------------------------------------
    def show_chain(self, entity_id: str, trust_anchor: str | None = None) -> dict[str, Any]:
        """The resolved chain of ``entity_id`` to a configured anchor, or why it fails."""
        try:
            chain = self.fed.resolver().resolve(entity_id, trust_anchor=trust_anchor)
        except FederationError as e:
            return {"entity_id": entity_id, "resolved": False, "error": e.error,
                    "reason": e.description}
        return {"entity_id": entity_id, "resolved": True, "trust_anchor": chain.trust_anchor_id,
                "path": [s.iss for s in chain.statements[1:]] or [chain.trust_anchor_id],
                "expires_at": datetime.fromtimestamp(chain.exp, tz=UTC).isoformat(),
                "metadata": chain.metadata}
