"""Register mirrors, import checkpoints and the doctors' verified registrations.

- ``register_records``: one row per entry of a mirrored register (all registers share the
  table; ``row_hash`` makes re-imports of unchanged rows a no-op).
- ``register_imports``: one checkpoint per imported file (digest + last committed line), so
  an interrupted import resumes after its last committed batch.
- ``register_snapshot_keys``: numbers seen by a running full-snapshot import (registers
  whose extract lists only current entries, e.g. dk-sst), to find the ones that vanished.
- ``doctor_registrations``: a doctor's claimed registration and its latest check result,
  with the evidence the claims builder releases; ``withdrawn_at`` /
  ``withdrawal_handled_at`` form a durable to-do list for session and token revocation.
- ``verification_checks``: append-only history of every check.
- ``identity_evidence``: person-level evidence (reviewed ID document, colleague vouch,
  professional eID signature) that raises the assurance level.
- ``review_documents``: documents a doctor uploads for manual review (licence, hospital
  badge, identity document), encrypted at rest; the content is deleted once decided
  (after a configurable retention), the row stays as the record of the decision.
- ``vouches``: one verified doctor vouching for a colleague of the same jurisdiction; two
  of them become ``vouch`` evidence.
- ``self_declared_professions``: the profession a doctor states on their honour; released
  only as its own claim, never inside ``verified_claims``.

``doctor_id`` columns reference ``doctors.id``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.db import Base, UTCDateTime, utcnow


class RegisterRecord(Base):
    __tablename__ = "register_records"

    register: Mapped[str] = mapped_column(String(16), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    family_name: Mapped[str] = mapped_column(String(200), default="")
    given_names: Mapped[str] = mapped_column(String(200), default="")
    name_prefix: Mapped[str] = mapped_column(String(40), default="")
    alt_family_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    profession: Mapped[str] = mapped_column(String(40), default="")
    profession_code: Mapped[str] = mapped_column(String(20), default="")
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    registered_since: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    status_detail: Mapped[str] = mapped_column(String(200), default="")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Digest of every column above: an upsert only writes when it changes.
    row_hash: Mapped[str] = mapped_column(String(40))
    # Which import (or "live" lookup) last wrote the row, and when.
    source: Mapped[str] = mapped_column(String(40), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RegisterImport(Base):
    __tablename__ = "register_imports"
    __table_args__ = (UniqueConstraint("register", "kind", "file_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    register: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(20))  # full | delta | deactivations | snapshot
    file_digest: Mapped[str] = mapped_column(String(64))  # sha256 hex of the file
    file_name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|done|failed
    last_line: Mapped[int] = mapped_column(Integer, default=0)  # last committed line
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    rows_changed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RegisterSnapshotKey(Base):
    __tablename__ = "register_snapshot_keys"

    import_id: Mapped[int] = mapped_column(
        ForeignKey("register_imports.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[str] = mapped_column(String(32), primary_key=True)


class DoctorRegistration(Base):
    __tablename__ = "doctor_registrations"
    __table_args__ = (
        UniqueConstraint("doctor_id", "register", "number"),
        Index("ix_doctor_registrations_register_number", "register", "number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doctor_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("doctors.id", ondelete="CASCADE"), index=True
    )
    register: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(2))
    profession: Mapped[str] = mapped_column(String(40))
    # The claimed names at the time of the check.
    given_name: Mapped[str] = mapped_column(String(200), default="")
    family_name: Mapped[str] = mapped_column(String(200), default="")
    # Latest result: a ResultStatus value, its reason and how it was obtained.
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(300), default="")
    method: Mapped[str] = mapped_column(String(16), default="")  # live | mirror | review
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_given_name: Mapped[str | None] = mapped_column(String(200))
    verified_family_name: Mapped[str | None] = mapped_column(String(200))
    entry: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # register entry snapshot
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # OIDC4IDA evidence
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawal_handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VerificationCheck(Base):
    __tablename__ = "verification_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("doctor_registrations.id", ondelete="CASCADE"), index=True
    )
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(300), default="")
    method: Mapped[str] = mapped_column(String(16), default="")


class IdentityEvidence(Base):
    __tablename__ = "identity_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doctor_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("doctors.id", ondelete="CASCADE"), index=True
    )
    # OIDC4IDA evidence type: document | vouch | electronic_signature
    type: Mapped[str] = mapped_column(String(24))
    # The evidence object as released (OIDC4IDA shape, without the "type" member).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Names the evidence confirms (e.g. read from the ID document by the reviewer).
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(100), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReviewDocument(Base):
    __tablename__ = "review_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doctor_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("doctors.id", ondelete="CASCADE"), index=True
    )
    # The registration the document supports (a licence or badge), if the doctor chose one.
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("doctor_registrations.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(16))  # licence | badge | id_document
    content_type: Mapped[str] = mapped_column(String(40))  # sniffed, never the client's word
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # Fernet token of the file (hub.secrets.encrypt); NULL once deleted.
    content_enc: Mapped[str | None] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_reason: Mapped[str] = mapped_column(String(300), default="")
    # When the content must be gone (decision time + retention; upload + max pending age).
    delete_after: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Vouch(Base):
    __tablename__ = "vouches"
    __table_args__ = (UniqueConstraint("voucher_id", "vouchee_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    voucher_id: Mapped[str] = mapped_column(String(32), ForeignKey("doctors.id", ondelete="CASCADE"))
    vouchee_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("doctors.id", ondelete="CASCADE"), index=True
    )
    jurisdiction: Mapped[str] = mapped_column(String(2))  # ISO 3166 alpha-2
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The vouch evidence it became (once two vouches of one jurisdiction exist).
    evidence_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_evidence.id", ondelete="SET NULL")
    )


class SelfDeclaredProfession(Base):
    __tablename__ = "self_declared_professions"

    doctor_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("doctors.id", ondelete="CASCADE"), primary_key=True
    )
    profession: Mapped[str] = mapped_column(String(80))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
