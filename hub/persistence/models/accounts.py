"""Doctor accounts: credentials and the standard OpenID Connect profile claims."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.db import Base, UTCDateTime, utcnow


def _new_id() -> str:
    return uuid.uuid4().hex


class _DoctorDerived:
    """What is derived from a doctor's row, for the ORM model and the read-only record."""

    __slots__ = ()
    given_name: str
    family_name: str
    totp_secret_enc: str | None

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_secret_enc is not None


class Doctor(_DoctorDerived, Base):
    __tablename__ = "doctors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    given_name: Mapped[str] = mapped_column(String(100), default="")
    family_name: Mapped[str] = mapped_column(String(100), default="")
    locale: Mapped[str | None] = mapped_column(String(35))
    # TOTP secret, encrypted with the key-encryption keys (never stored in clear).
    totp_secret_enc: Mapped[str | None] = mapped_column(String(400))
    # Keyed hashes of unused recovery codes; each is removed when used.
    recovery_code_hashes: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True, slots=True)
class DoctorRecord(_DoctorDerived):
    """A read-only snapshot of one ``doctors`` row, for the sign-in and userinfo paths.

    Building an ORM ``Doctor`` outside a session costs ~10x a plain record (SQLAlchemy's
    attribute instrumentation), and those paths only read. Changes go through a session.
    """

    id: str
    email: str
    email_verified: bool
    password_hash: str | None
    given_name: str
    family_name: str
    locale: str | None
    totp_secret_enc: str | None
    recovery_code_hashes: list[str]
    disabled: bool
    created_at: datetime
