"""OpenID Federation state: the hub's federation keys, how each federation client was
registered, and (as a trust anchor) its subordinates and the trust marks it issued."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.db import Base, UTCDateTime, utcnow
from hub.persistence.models.clients import CLIENT_ID_LENGTH


class FederationKey(Base):
    """Keys that sign the hub's entity statements: kept apart from the token-signing keys
    (OpenID Federation 1.0 section 3.1.1), encrypted at rest like them."""

    __tablename__ = "federation_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    # active: signs and is published; retired: no longer published.
    state: Mapped[str] = mapped_column(String(16), default="active")
    private_jwk_enc: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FederationRegistration(Base):
    """A client that joined through a trust chain (section 12): the chain it was admitted
    on, valid until ``chain_expires_at`` (section 10.4), then resolved again."""

    __tablename__ = "federation_registrations"

    client_id: Mapped[str] = mapped_column(String(CLIENT_ID_LENGTH), primary_key=True)
    # automatic (section 12.1) | explicit (section 12.2)
    kind: Mapped[str] = mapped_column(String(16))
    trust_anchor: Mapped[str] = mapped_column(String(2000))
    authority_hint: Mapped[str | None] = mapped_column(String(2000))
    chain_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The statements of the chain (JWTs, subject first) and the verified trust marks'
    # types, for the admin console and policies.
    chain: Mapped[list[str]] = mapped_column(JSON, default=list)
    trust_marks: Mapped[list[str]] = mapped_column(JSON, default=list)
    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Why the last resolution failed (the client has no access meanwhile); None when current.
    failure: Mapped[str | None] = mapped_column(String(500))


class FederationSubordinate(Base):
    """An entity the hub vouches for when acting as trust anchor or intermediate."""

    __tablename__ = "federation_subordinates"

    entity_id: Mapped[str] = mapped_column(String(2000), primary_key=True)
    jwks: Mapped[dict[str, object]] = mapped_column(JSON)
    metadata_policy: Mapped[dict[str, object] | None] = mapped_column(JSON)
    # The entity types it is listed as (the list endpoint's entity_type filter).
    entity_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FederationTrustMark(Base):
    """A trust mark the hub issued; revoking it changes what the status endpoint answers."""

    __tablename__ = "federation_trust_marks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the JWT
    trust_mark_type: Mapped[str] = mapped_column(String(2000))
    subject: Mapped[str] = mapped_column(String(2000))
    token: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
