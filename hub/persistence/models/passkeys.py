"""WebAuthn credentials (passkeys) a doctor enrolled: the public key and what the hub
checks at each use (hub/domain/passkeys.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.db import Base, UTCDateTime, utcnow

# WebAuthn Level 3 §5.1: a credential id is at most 1023 bytes; base64url of that is 1364.
MAX_CREDENTIAL_ID = 1364


class Passkey(Base):
    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doctor_id: Mapped[str] = mapped_column(String(32), ForeignKey("doctors.id", ondelete="CASCADE"),
                                           index=True)
    # base64url, unique across all doctors: the credential id alone names the doctor at a
    # usernameless sign-in (WebAuthn Level 3 §7.1 step 5 refuses one registered twice).
    credential_id: Mapped[str] = mapped_column(String(MAX_CREDENTIAL_ID), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key, as the authenticator gave it
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)  # uint32 (§6.1.1)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    # The BE flag (§6.1): a multi-device (synced) credential can leave the authenticator.
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
