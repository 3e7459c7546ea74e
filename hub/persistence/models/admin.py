"""Administrator accounts of the hub console, kept apart from doctors on purpose.

An admin is never a doctor account with a flag: a doctor's password or session must not
open the console, and the console's stricter rules (TOTP always, short sessions, roles)
apply to this table only.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.db import Base, UTCDateTime, utcnow

ROLES = ("auditor", "verifier", "admin")


def _new_id() -> str:
    return uuid.uuid4().hex


class AdminAccount(Base):
    __tablename__ = "admin_accounts"
    __table_args__ = (
        CheckConstraint("role IN ('auditor', 'verifier', 'admin')", name="role_known"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # argon2id, the same hasher (and cost settings) as doctors' passwords.
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    # TOTP secret encrypted with the key-encryption keys; NULL until enrolled at first sign-in.
    totp_secret_enc: Mapped[str | None] = mapped_column(String(400))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def actor(self) -> str:
        """How this admin appears in the audit log: an opaque id, never the e-mail."""
        return f"admin:{self.id}"

    @property
    def mfa_enrolled(self) -> bool:
        return self.totp_secret_enc is not None
