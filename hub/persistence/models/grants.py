"""Durable authorisation state: grants, refresh tokens and remembered consent.

Access tokens and codes are short-lived and live in the Store; a grant and its refresh
tokens must survive restarts, so they live here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.db import Base, UTCDateTime, utcnow
from hub.persistence.models.clients import CLIENT_ID_LENGTH


class Grant(Base):
    """One authorisation a doctor gave a client; every token issued from it carries its id."""

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(CLIENT_ID_LENGTH),
                                           ForeignKey("clients.client_id", ondelete="CASCADE"))
    doctor_id: Mapped[str] = mapped_column(String(32), ForeignKey("doctors.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(500))
    claims: Mapped[dict[str, object] | None] = mapped_column(JSON)
    sid: Mapped[str | None] = mapped_column(String(64))
    auth_time: Mapped[int] = mapped_column()
    acr: Mapped[str | None] = mapped_column(String(100))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_grants_doctor_client", "doctor_id", "client_id"),)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    # SHA-256 of the token: a database dump yields no usable refresh token.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(String(32), ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the token was exchanged for a successor (rotation, RFC 9700 §4.14.2).
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The token it was rotated into, encrypted with the key-encryption keys, kept only for
    # the reuse grace window: a concurrent replay gets the same successor, never a second
    # chain (hub/domain/tokens.py). Never a token in the clear.
    successor: Mapped[str | None] = mapped_column(String(255))

    # Only the few rows holding a sealed successor, for erasing them when their window ends.
    __table_args__ = (Index("ix_refresh_tokens_sealed", "grant_id",
                            postgresql_where=successor.is_not(None),
                            sqlite_where=successor.is_not(None)),)


class Consent(Base):
    """A consent receipt: which claims a doctor agreed to release to a client, and when."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    doctor_id: Mapped[str] = mapped_column(String(32), ForeignKey("doctors.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(CLIENT_ID_LENGTH),
                                           ForeignKey("clients.client_id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    claims: Mapped[list[str]] = mapped_column(JSON)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_consents_doctor_client", "doctor_id", "client_id"),)
