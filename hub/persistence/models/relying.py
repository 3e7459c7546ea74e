"""Relying-party administration: policy versions, registration tokens, operators, logout outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.db import Base, UTCDateTime, utcnow
from hub.persistence.models.clients import CLIENT_ID_LENGTH


class ClientPolicyVersion(Base):
    """One version of a client's policy document (policies.load_policy validated it).

    Versions are never edited: the newest row is in force, older rows explain past
    decisions and consent receipts (Consent.policy_version holds ``version``).
    """

    __tablename__ = "client_policy_versions"
    __table_args__ = (UniqueConstraint("client_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(
        String(CLIENT_ID_LENGTH), ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(80))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)  # the normalised document
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InitialAccessToken(Base):
    """RFC 7591 §3 initial access token an admin issues; only its SHA-256 is kept."""

    __tablename__ = "initial_access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uses_left: Mapped[int] = mapped_column(Integer, default=1)
    operator_id: Mapped[str | None] = mapped_column(String(32))  # owner of clients it registers
    # The issuing admin approved in advance the networks it registers (an invitation): they
    # start active. Without it they stay pending until an admin reviews them.
    approved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RegistrationAccessToken(Base):
    """RFC 7592 registration access token of one client (SHA-256 only) and its owner."""

    __tablename__ = "registration_access_tokens"

    client_id: Mapped[str] = mapped_column(
        String(CLIENT_ID_LENGTH), ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OperatorAccount(Base):
    """A partner network's operator: separate from doctors and admins, TOTP required."""

    __tablename__ = "operator_accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret_enc: Mapped[str | None] = mapped_column(String(400))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogoutDelivery(Base):
    """Durable outbox row of one back-channel logout (OIDC Back-Channel Logout 1.0).

    The row is the source of truth; the worker signs a fresh logout token per attempt.
    status: pending -> delivered | failed (after the last attempt).
    """

    __tablename__ = "logout_outbox"
    __table_args__ = (Index("ix_logout_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(
        String(CLIENT_ID_LENGTH), ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    doctor_id: Mapped[str | None] = mapped_column(String(32))
    sub: Mapped[str | None] = mapped_column(String(100))
    sid: Mapped[str | None] = mapped_column(String(64))
    uri: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
