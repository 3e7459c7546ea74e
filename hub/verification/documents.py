"""Documents a doctor uploads for manual review (licence, hospital badge, identity
document): checked, encrypted at rest with the hub's key-encryption keys, and deleted once
a reviewer decided (after a configurable retention) or when nobody decided in time.

Only the content goes; the row stays as the record of what was decided, by whom and why.
The type is taken from the file's first bytes, never from the name or the Content-Type the
browser sent, so a renamed HTML file cannot reach a reviewer's browser as a "PDF".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.domain.crypto import HubSecrets
from hub.persistence.db import utcnow
from hub.persistence.models.registers import DoctorRegistration, ReviewDocument

KINDS: dict[str, str] = {
    "licence": "Your licence or registration certificate",
    "badge": "Your hospital or practice badge",
    "id_document": "An identity document (passport, identity card, driving licence)",
}
# Magic numbers (the files' own signatures): PDF 1.x/2.0, PNG (RFC 2083 §3.1), JPEG SOI+marker.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}
MAX_BYTES = 5 * 1024 * 1024
PENDING = "pending"
ACCEPTED = "accepted"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"  # the doctor took it back before a decision
EXPIRED = "expired"  # nobody decided within the maximum pending age


class UploadRefused(ValueError):
    """The upload cannot be accepted; the message is meant for the doctor."""


@dataclass(frozen=True, slots=True)
class DocumentPolicy:
    max_bytes: int = MAX_BYTES
    # How long a decided document's content is kept (0: deleted at the decision).
    retention: timedelta = timedelta(0)
    # An undecided document is deleted after this long all the same.
    pending_max_age: timedelta = timedelta(days=90)
    max_pending_per_doctor: int = 5

    @classmethod
    def from_settings(cls, settings: Any) -> DocumentPolicy:
        """Read ``verification_document_retention`` / ``verification_document_max_age``
        (seconds) when the settings have them, else the defaults above."""
        default = cls()
        retention = getattr(settings, "verification_document_retention", None)
        max_age = getattr(settings, "verification_document_max_age", None)
        return cls(
            retention=timedelta(seconds=retention) if retention is not None else default.retention,
            pending_max_age=timedelta(seconds=max_age) if max_age is not None else default.pending_max_age,
        )


def sniff(data: bytes) -> str | None:
    """The content type told by the file's first bytes, or None when not an allowed one."""
    return next((ctype for magic, ctype in _SIGNATURES if data.startswith(magic)), None)


def store(
    session: Session,
    secrets: HubSecrets,
    doctor_id: str,
    kind: str,
    data: bytes,
    *,
    registration_id: int | None = None,
    policy: DocumentPolicy = DocumentPolicy(),  # noqa: B008 (frozen, immutable)
    now: datetime | None = None,
) -> ReviewDocument:
    """Check and store one upload encrypted; raises UploadRefused with a plain reason."""
    if kind not in KINDS:
        raise UploadRefused("Choose what kind of document this is.")
    if not data:
        raise UploadRefused("The file is empty.")
    if len(data) > policy.max_bytes:
        raise UploadRefused(f"The file is larger than {policy.max_bytes // (1024 * 1024)} MB.")
    content_type = sniff(data)
    if content_type is None:
        raise UploadRefused("Only PDF, PNG and JPEG files can be uploaded.")
    if registration_id is not None:
        reg = session.get(DoctorRegistration, registration_id)
        if reg is None or reg.doctor_id != doctor_id:
            raise UploadRefused("Choose one of your own registrations.")
    waiting = session.execute(
        select(func.count()).select_from(ReviewDocument).where(
            ReviewDocument.doctor_id == doctor_id, ReviewDocument.status == PENDING
        )
    ).scalar_one()
    if waiting >= policy.max_pending_per_doctor:
        raise UploadRefused(
            f"You already have {waiting} documents waiting for review. Remove one, or wait for the decision."
        )
    now = now or utcnow()
    doc = ReviewDocument(
        doctor_id=doctor_id,
        registration_id=registration_id,
        kind=kind,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_enc=secrets.encrypt(data),
        uploaded_at=now,
        status=PENDING,
        delete_after=now + policy.pending_max_age,
    )
    session.add(doc)
    session.flush()
    return doc


def read(session: Session, secrets: HubSecrets, document_id: int) -> tuple[ReviewDocument, bytes]:
    """The document and its decrypted content; LookupError when gone or unknown."""
    doc = session.get(ReviewDocument, document_id)
    if doc is None or doc.content_enc is None:
        raise LookupError("no document with that id, or its content was deleted")
    return doc, secrets.decrypt(doc.content_enc)


def decide(
    doc: ReviewDocument,
    status: str,
    *,
    reviewer: str,
    reason: str,
    policy: DocumentPolicy = DocumentPolicy(),  # noqa: B008
    now: datetime | None = None,
) -> None:
    """Record the decision and schedule (or do, with no retention) the content's deletion."""
    if doc.status != PENDING:
        raise LookupError("the document was already decided")
    now = now or utcnow()
    doc.status, doc.decided_at = status, now
    doc.decided_by, doc.decision_reason = reviewer[:100], reason[:300]
    doc.delete_after = now + policy.retention
    if policy.retention <= timedelta(0):
        _erase(doc, now)


def _erase(doc: ReviewDocument, now: datetime) -> None:
    doc.content_enc = None
    doc.deleted_at = now


def withdraw(session: Session, doctor_id: str, document_id: int, *, now: datetime | None = None) -> bool:
    """The doctor removes an undecided upload of theirs; the content goes at once."""
    doc = session.get(ReviewDocument, document_id)
    if doc is None or doc.doctor_id != doctor_id or doc.status != PENDING:
        return False
    now = now or utcnow()
    doc.status, doc.decided_at, doc.decided_by = WITHDRAWN, now, "doctor"
    _erase(doc, now)
    return True


def purge_due(session: Session, *, now: datetime | None = None) -> int:
    """Delete the content of every document past its ``delete_after`` (decided ones after
    their retention, undecided ones after the maximum pending age)."""
    now = now or utcnow()
    due = (ReviewDocument.content_enc.is_not(None), ReviewDocument.delete_after <= now)
    gone = 0
    for extra, values in (
        ((ReviewDocument.status == PENDING,), {"status": EXPIRED, "decided_at": now}),
        ((), {}),
    ):
        result = session.execute(
            update(ReviewDocument)
            .where(*due, *extra)
            .values(content_enc=None, deleted_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        gone += int(getattr(result, "rowcount", 0) or 0)
    return gone


def of_doctor(session: Session, doctor_id: str) -> list[ReviewDocument]:
    return list(
        session.execute(
            select(ReviewDocument)
            .where(ReviewDocument.doctor_id == doctor_id)
            .order_by(ReviewDocument.uploaded_at.desc(), ReviewDocument.id.desc())
            .limit(20)
        ).scalars()
    )
