"""Storing check results and person-level evidence, and loading them for the claims
builder. All functions take a SQLAlchemy Session and leave committing to the caller
(``Database.session()`` commits on exit)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.ops.metrics import count_check
from hub.persistence.db import Database, utcnow
from hub.persistence.models.registers import DoctorRegistration, IdentityEvidence, VerificationCheck
from hub.verification.base import RegisterResult, RegistrationClaim, ResultStatus, Verifier
from hub.verification.claims import (
    PersonEvidence,
    VerifiedRegistration,
    build_verified_claims,
)
from hub.verification.registry import register_for_country
from hub.verification.release import filter_verified_claims

RELEASABLE = (ResultStatus.MATCH.value,)
# A change away from these means the doctor's verified claim must stop being used.
_VERIFIED = (ResultStatus.MATCH.value,)


class UnknownRegister(LookupError):
    pass


def register_for(claim: RegistrationClaim) -> str:
    register = claim.register or register_for_country(claim.country)
    if register is None:
        raise UnknownRegister(f"no register for country {claim.country!r}")
    return register


def _entry_json(result: RegisterResult) -> dict[str, Any] | None:
    e = result.entry
    if e is None:
        return None
    return {
        "family_name": e.display_family_name,
        "given_names": e.given_names,
        "profession": e.profession,
        "specialties": list(e.specialties),
        "registered_since": e.registered_since.isoformat() if e.registered_since else None,
        "status": e.status.value,
        "status_detail": e.status_detail,
    }


def record_check(
    session: Session, doctor_id: str, claim: RegistrationClaim, result: RegisterResult
) -> DoctorRegistration:
    """Store a check result on the doctor's registration (created on first check) and in
    the history. A registration that was verified and no longer is gets ``withdrawn_at``."""
    register = result.register or register_for(claim)
    count_check(register, result.status.value)
    reg = session.execute(
        select(DoctorRegistration).where(
            DoctorRegistration.doctor_id == doctor_id,
            DoctorRegistration.register == register,
            DoctorRegistration.number == claim.number,
        )
    ).scalar_one_or_none()
    if reg is None:
        reg = DoctorRegistration(doctor_id=doctor_id, register=register, number=claim.number)
        session.add(reg)
    was_verified = reg.status in _VERIFIED
    method = result.evidence.method if result.evidence else "live"
    if result.status is ResultStatus.UNAVAILABLE and was_verified:
        # An outage proves nothing: keep the verified state, record the attempt only.
        session.flush()
        session.add(
            VerificationCheck(
                registration_id=reg.id,
                checked_at=result.checked_at,
                status=result.status.value,
                reason=result.reason[:300],
                method=method,
            )
        )
        return reg
    reg.country = claim.country.upper()[:2]
    reg.profession = claim.profession
    reg.given_name, reg.family_name = claim.given_name, claim.family_name
    reg.status, reg.reason, reg.method = result.status.value, result.reason[:300], method
    reg.checked_at = result.checked_at
    if result.entry is not None:
        reg.entry = _entry_json(result)
    if result.evidence is not None:
        reg.evidence = result.evidence.to_json()
    if result.status is ResultStatus.MATCH:
        reg.verified_at = result.checked_at
        reg.verified_given_name = result.verified_given_name
        reg.verified_family_name = result.verified_family_name
        reg.withdrawn_at = None
    elif was_verified:
        reg.withdrawn_at = result.checked_at
        reg.withdrawal_handled_at = None
    session.flush()
    session.add(
        VerificationCheck(
            registration_id=reg.id,
            checked_at=result.checked_at,
            status=result.status.value,
            reason=result.reason[:300],
            method=method,
        )
    )
    return reg


def verify(
    db: Database, verifiers: Mapping[str, Verifier], doctor_id: str, claim: RegistrationClaim
) -> RegisterResult:
    """Check a claim with the right register and store the result."""
    result = verifiers[register_for(claim)].check(claim)
    with db.session() as s:
        record_check(s, doctor_id, claim, result)
    return result


def approve_review(
    session: Session, registration_id: int, *, reviewer: str, now: datetime | None = None
) -> DoctorRegistration:
    """An administrator confirmed a registration that needed review (partial name match,
    restriction judged compatible): it becomes verified with the claimed names."""
    reg = session.get(DoctorRegistration, registration_id)
    if reg is None or reg.status not in ("needs_review", "restricted"):
        raise LookupError("no registration awaiting review with that id")
    now = now or utcnow()
    reg.status, reg.method, reg.reviewed_by = "match", "review", reviewer[:100]
    reg.reason = f"approved by {reviewer}"[:300]
    reg.verified_at = reg.checked_at = now
    reg.verified_given_name, reg.verified_family_name = reg.given_name, reg.family_name
    session.add(
        VerificationCheck(
            registration_id=reg.id,
            checked_at=now,
            status="match",
            reason=reg.reason,
            method="review",
        )
    )
    return reg


def add_identity_evidence(
    session: Session,
    doctor_id: str,
    evidence: PersonEvidence,
    *,
    recorded_by: str,
    verified_at: datetime | None = None,
) -> IdentityEvidence:
    row = IdentityEvidence(
        doctor_id=doctor_id,
        type=evidence.type,
        details=evidence.details,
        given_name=evidence.given_name,
        family_name=evidence.family_name,
        verified_at=verified_at or utcnow(),
        recorded_by=recorded_by[:100],
    )
    session.add(row)
    return row


@dataclass(frozen=True, slots=True)
class DoctorVerification:
    registrations: list[VerifiedRegistration]
    evidence: list[PersonEvidence]

    def verified_claims(self) -> list[dict[str, Any]]:
        return build_verified_claims(self.registrations, self.evidence)

    def release(self, request: Any, *, member: str = "userinfo", validate: bool = True) -> Any:
        """The verified_claims value to put in the token/userinfo for this request.
        ``validate=False`` when the request was already validated (at /authorize)."""
        return filter_verified_claims(self.verified_claims(), request, member=member, validate=validate)


def load(session: Session, doctor_id: str) -> DoctorVerification:
    regs = session.execute(
        select(DoctorRegistration).where(
            DoctorRegistration.doctor_id == doctor_id,
            DoctorRegistration.status.in_(RELEASABLE),
        )
    ).scalars()
    registrations = []
    for r in regs:
        if r.verified_at is None or r.evidence is None:
            continue
        entry = r.entry or {}
        since = entry.get("registered_since")
        registrations.append(
            VerifiedRegistration(
                register=r.register,
                number=r.number,
                profession=r.profession,
                status=entry.get("status", "active"),
                verified_at=r.verified_at,
                last_checked=r.checked_at,
                evidence=r.evidence,
                given_name=r.verified_given_name,
                family_name=r.verified_family_name,
                specialties=tuple(entry.get("specialties") or ()),
                registered_since=date.fromisoformat(since) if since else None,
            )
        )
    evidence = [
        PersonEvidence(e.type, dict(e.details or {}), e.given_name, e.family_name)
        for e in session.execute(
            select(IdentityEvidence).where(
                IdentityEvidence.doctor_id == doctor_id, IdentityEvidence.revoked_at.is_(None)
            )
        ).scalars()
    ]
    return DoctorVerification(registrations, evidence)
