"""Relying parties (partner networks) registered at the hub."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.db import Base, UTCDateTime, utcnow

# A client id is a short random token, or a federation member's entity id: a URL
# (OpenID Federation 1.0 section 12.1), as long as the other entity-id columns allow.
CLIENT_ID_LENGTH = 2000


class ClientRecord(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(CLIENT_ID_LENGTH), primary_key=True)
    # HMAC-SHA256 of the secret under the hub's secret key; None for public clients.
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # active | pending | suspended: only active clients may sign doctors in.
    status: Mapped[str] = mapped_column(String(16), default="active")
    # RFC 7591 client metadata, validated before it is stored.
    client_metadata: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
