"""Service functions for the manual review queue (the admin console's verifier pages call
these; the caller checks that the admin holds the verifier role).

- :func:`review_queue` — registrations a register check could not settle alone (partial
  name match, restrictions to judge) with the documents and vouches that support them, and
  uploaded documents that wait for a decision on their own (identity documents).
- :func:`approve_registration` / :func:`reject_registration` — the decision, reviewer and
  reason are recorded on the registration, in its check history and in the audit log; the
  documents attached to it are decided with it (and so deleted after the retention).
- :func:`accept_document` / :func:`reject_document` — an accepted identity document becomes
  ``document`` evidence (OIDC4IDA 1.0, evidence type "document", ``check_method`` "vpip":
  a person checked the physical document's validity) naming whom the reviewer read on it.
- :func:`fetch_document` — decrypts a document for viewing; every view is audited.

Every function takes the hub (for the database, key-encryption keys, settings and audit)
and commits its change together with its audit record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.audit import append
from hub.persistence.db import utcnow
from hub.persistence.models.accounts import Doctor
from hub.persistence.models.registers import DoctorRegistration, ReviewDocument, VerificationCheck, Vouch
from hub.verification import documents, events, records
from hub.verification.claims import PersonEvidence
from hub.verification.documents import DocumentPolicy
from hub.verification.vocabulary import CHECK_METHOD_VPIP

REVIEW_STATUSES = ("needs_review", "restricted")
REJECTED = "rejected"  # a DoctorRegistration status set only by a reviewer
DOCUMENT_TYPES = ("idcard", "passport", "driving_permit", "residence_permit")  # DISCOVERY_METADATA
QUEUE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    id: int
    doctor_id: str
    kind: str  # licence | badge | id_document
    content_type: str
    size: int
    uploaded_at: datetime
    registration_id: int | None


@dataclass(frozen=True, slots=True)
class ReviewItem:
    registration_id: int
    doctor_id: str
    doctor_email: str
    doctor_name: str  # the account's names (what the register was asked to match)
    register: str
    number: str
    country: str
    status: str  # needs_review | restricted
    reason: str  # why the check could not settle it
    checked_at: datetime
    entry: dict[str, Any] | None  # the register entry as found (names, status wording)
    documents: list[DocumentInfo] = field(default_factory=list)
    vouches: int = 0


@dataclass(frozen=True, slots=True)
class ReviewQueue:
    registrations: list[ReviewItem]
    documents: list[DocumentInfo]  # pending documents not attached to a queued registration


@dataclass(frozen=True, slots=True)
class DocumentContent:
    info: DocumentInfo
    data: bytes
    filename: str  # a safe name for Content-Disposition: attachment


def _info(d: ReviewDocument) -> DocumentInfo:
    return DocumentInfo(d.id, d.doctor_id, d.kind, d.content_type, d.size, d.uploaded_at,
                        d.registration_id)


def review_queue(hub: Any, *, limit: int = QUEUE_LIMIT) -> ReviewQueue:
    """What waits for a verifier, oldest first."""
    with hub.db.session() as s:
        rows = s.execute(
            select(DoctorRegistration, Doctor.email, Doctor.given_name, Doctor.family_name)
            .join(Doctor, Doctor.id == DoctorRegistration.doctor_id)
            .where(DoctorRegistration.status.in_(REVIEW_STATUSES))
            .order_by(DoctorRegistration.checked_at, DoctorRegistration.id)
            .limit(limit)
        ).all()
        pending = list(
            s.execute(
                select(ReviewDocument)
                .where(ReviewDocument.status == documents.PENDING, ReviewDocument.content_enc.is_not(None))
                .order_by(ReviewDocument.uploaded_at, ReviewDocument.id)
                .limit(limit)
            ).scalars()
        )
        doctor_ids = {reg.doctor_id for reg, *_ in rows}
        vouch_counts = dict(
            s.execute(
                select(Vouch.vouchee_id, func.count())
                .where(Vouch.vouchee_id.in_(doctor_ids))
                .group_by(Vouch.vouchee_id)
            ).all()
        ) if doctor_ids else {}
        queued_ids = {reg.id for reg, *_ in rows}
        by_registration: dict[int, list[DocumentInfo]] = {}
        loose: list[DocumentInfo] = []
        for d in pending:
            if d.registration_id in queued_ids:
                by_registration.setdefault(d.registration_id, []).append(_info(d))
            else:
                loose.append(_info(d))
        items = [
            ReviewItem(
                reg.id, reg.doctor_id, email, f"{given} {family}".strip(), reg.register, reg.number,
                reg.country, reg.status, reg.reason, reg.checked_at, reg.entry,
                by_registration.get(reg.id, []), int(vouch_counts.get(reg.doctor_id, 0)),
            )
            for reg, email, given, family in rows
        ]
    return ReviewQueue(items, loose)


def _decide_attached(s: Session, registration_id: int, status: str, *, reviewer: str, reason: str,
                     policy: DocumentPolicy) -> None:
    for doc in s.execute(
        select(ReviewDocument).where(
            ReviewDocument.registration_id == registration_id, ReviewDocument.status == documents.PENDING
        )
    ).scalars():
        documents.decide(doc, status, reviewer=reviewer, reason=reason, policy=policy)


def approve_registration(hub: Any, registration_id: int, *, reviewer: str, reason: str,
                         address: str | None = None) -> str:
    """A verifier confirms a registration that waited for review; it is released from the
    next token on. Returns the doctor's id; LookupError when nothing waits under that id."""
    policy = DocumentPolicy.from_settings(hub.settings)
    with hub.db.session() as s:
        reg = records.approve_review(s, registration_id, reviewer=reviewer)
        reg.reason = f"approved by {reviewer}: {reason}"[:300]
        _decide_attached(s, reg.id, documents.ACCEPTED, reviewer=reviewer, reason=reason, policy=policy)
        append(s, events.VERIFIED, actor=reviewer, address=address, subject=reg.doctor_id,
               detail={"doctor": reg.doctor_id, "registration": reg.id, "register": reg.register,
                       "method": "review",
                       "reason": reason[:200]})
        return reg.doctor_id


def reject_registration(hub: Any, registration_id: int, *, reviewer: str, reason: str,
                        address: str | None = None) -> str:
    """A verifier refuses a registration that waited for review. It is never released and
    no longer re-checked; the doctor sees the reason on their verification page."""
    policy = DocumentPolicy.from_settings(hub.settings)
    now = utcnow()
    with hub.db.session() as s:
        reg: DoctorRegistration | None = s.get(DoctorRegistration, registration_id)
        if reg is None or reg.status not in REVIEW_STATUSES:
            raise LookupError("no registration awaiting review with that id")
        reg.status, reg.method, reg.reviewed_by = REJECTED, "review", reviewer[:100]
        reg.reason = f"not accepted by a reviewer: {reason}"[:300]
        reg.checked_at = now
        s.add(VerificationCheck(registration_id=reg.id, checked_at=now, status=REJECTED,
                                reason=reg.reason, method="review"))
        _decide_attached(s, reg.id, documents.REJECTED, reviewer=reviewer, reason=reason, policy=policy)
        append(s, events.REJECTED, actor=reviewer, address=address, subject=reg.doctor_id,
               detail={"doctor": reg.doctor_id, "registration": reg.id, "register": reg.register,
                       "reason": reason[:200]})
        return reg.doctor_id


def accept_document(
    hub: Any,
    document_id: int,
    *,
    reviewer: str,
    reason: str,
    document_type: str | None = None,
    given_name: str | None = None,
    family_name: str | None = None,
    issuer_country: str | None = None,
    date_of_expiry: date | None = None,
    address: str | None = None,
) -> str:
    """Accept a document. For an identity document the reviewer gives its type
    (``DOCUMENT_TYPES``) and the names printed on it; it then becomes ``document``
    evidence, which raises the doctor's registrations whose names it matches to
    ``register_and_id``. Returns the doctor's id."""
    policy = DocumentPolicy.from_settings(hub.settings)
    now = utcnow()
    with hub.db.session() as s:
        doc = _pending(s, document_id)
        if doc.kind == "id_document":
            if document_type not in DOCUMENT_TYPES or not family_name:
                raise ValueError("an identity document needs its type and the family name on it")
            details: dict[str, Any] = {
                "check_details": [{"check_method": CHECK_METHOD_VPIP, "organization": "Curbside",
                                   "time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}],
                "document_details": {"type": document_type},
            }
            if issuer_country:
                details["document_details"]["issuer"] = {"country_code": issuer_country.upper()[:3]}
            if date_of_expiry:
                details["document_details"]["date_of_expiry"] = date_of_expiry.isoformat()
            records.add_identity_evidence(
                s, doc.doctor_id, PersonEvidence("document", details, given_name or None, family_name),
                recorded_by=reviewer, verified_at=now,
            )
        documents.decide(doc, documents.ACCEPTED, reviewer=reviewer, reason=reason, policy=policy, now=now)
        append(s, events.DOCUMENT_DECIDE, actor=reviewer, address=address, subject=doc.doctor_id,
               detail=_decision(doc, documents.ACCEPTED, reason))
        return doc.doctor_id


def reject_document(hub: Any, document_id: int, *, reviewer: str, reason: str,
                    address: str | None = None) -> str:
    policy = DocumentPolicy.from_settings(hub.settings)
    with hub.db.session() as s:
        doc = _pending(s, document_id)
        documents.decide(doc, documents.REJECTED, reviewer=reviewer, reason=reason, policy=policy)
        append(s, events.DOCUMENT_DECIDE, actor=reviewer, address=address, subject=doc.doctor_id,
               detail=_decision(doc, documents.REJECTED, reason))
        return doc.doctor_id


def fetch_document(hub: Any, document_id: int, *, reviewer: str,
                   address: str | None = None) -> DocumentContent:
    """Decrypt a document for a reviewer. Serve it with the returned content type,
    ``Content-Disposition: attachment`` and ``X-Content-Type-Options: nosniff``.
    LookupError when unknown or already deleted."""
    with hub.db.session() as s:
        doc, data = documents.read(s, hub.secrets, document_id)
        info = _info(doc)
        append(s, events.DOCUMENT_VIEW, actor=reviewer, address=address, subject=doc.doctor_id,
               detail={"doctor": doc.doctor_id, "upload": doc.id, "kind": doc.kind})
    filename = f"curbside-{info.kind}-{info.id}.{documents.EXTENSIONS[info.content_type]}"
    return DocumentContent(info, data, filename)


def _decision(doc: ReviewDocument, decision: str, reason: str) -> dict[str, Any]:
    return {"doctor": doc.doctor_id, "upload": doc.id, "kind": doc.kind, "decision": decision,
            "reason": reason[:200]}


def _pending(s: Session, document_id: int) -> ReviewDocument:
    doc = s.get(ReviewDocument, document_id)
    if doc is None or doc.status != documents.PENDING or doc.content_enc is None:
        raise LookupError("no document awaiting review with that id")
    return doc
