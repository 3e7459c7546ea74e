"""What the console knows about one doctor, and the actions an admin can take on them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from hub.admin import links as admin_links
from hub.admin.history import HistoryRecord, doctor_history
from hub.admin.tables import has_table
from hub.audit import append
from hub.persistence.db import Database
from hub.persistence.models.accounts import Doctor
from hub.persistence.models.grants import Consent, Grant
from hub.persistence.models.registers import DoctorRegistration, IdentityEvidence, VerificationCheck, Vouch
from hub.verification import documents

CHECKS_PER_REGISTRATION = 20
# end_doctor_sessions stores its reason on every revoked grant (64 characters), so it gets a
# code; the admin's own words go into the console's audit record.
END_SESSIONS_CODE = "admin_end_sessions"
SUSPEND_CODE = "admin_suspended"


@dataclass(frozen=True)
class NetworkGrants:
    client_id: str
    name: str
    active: int
    latest: datetime


@dataclass
class DoctorFacts:
    doctor: Doctor
    verification_available: bool
    registrations: list[Any] = field(default_factory=list)
    checks: dict[int, list[Any]] = field(default_factory=dict)
    evidence: list[Any] = field(default_factory=list)
    documents: list[Any] = field(default_factory=list)  # uploads for review (metadata only)
    vouches: int = 0  # colleagues who vouched for the doctor
    consents: list[Consent] = field(default_factory=list)
    grants: list[NetworkGrants] = field(default_factory=list)
    history: list[HistoryRecord] = field(default_factory=list)
    links: list[Any] = field(default_factory=list)  # hub.admin.links.LinkFacts


def load_facts(hub: Any, doctor_id: str) -> DoctorFacts | None:
    db: Database = hub.db
    with db.session() as s:
        doctor = s.get(Doctor, doctor_id) if len(doctor_id) <= 32 else None
        if doctor is None:
            return None
        facts = DoctorFacts(doctor, verification_available=has_table(db, "doctor_registrations"))
        if facts.verification_available:
            _load_verification(s, db, facts)
        facts.consents = list(s.scalars(select(Consent).where(Consent.doctor_id == doctor_id)
                                        .order_by(Consent.granted_at.desc())))
        active = s.execute(select(Grant.client_id, Grant.created_at)
                           .where(Grant.doctor_id == doctor_id, Grant.revoked_at.is_(None))).all()
    facts.grants = _per_network(hub, active)
    facts.history = doctor_history(db, doctor_id)
    facts.links = admin_links.of_doctor(hub, doctor_id, facts.history)
    return facts


def _load_verification(s: Any, db: Database, facts: DoctorFacts) -> None:
    doctor_id = facts.doctor.id
    facts.registrations = list(s.scalars(select(DoctorRegistration)
                                         .where(DoctorRegistration.doctor_id == doctor_id)
                                         .order_by(DoctorRegistration.register, DoctorRegistration.number)))
    for reg in facts.registrations:
        facts.checks[reg.id] = list(s.scalars(
            select(VerificationCheck).where(VerificationCheck.registration_id == reg.id)
            .order_by(VerificationCheck.checked_at.desc()).limit(CHECKS_PER_REGISTRATION)))
    facts.evidence = list(s.scalars(select(IdentityEvidence).where(IdentityEvidence.doctor_id == doctor_id)
                                    .order_by(IdentityEvidence.verified_at.desc())))
    if has_table(db, "review_documents"):
        facts.documents = documents.of_doctor(s, doctor_id)
        facts.vouches = int(s.scalar(select(func.count()).select_from(Vouch)
                                     .where(Vouch.vouchee_id == doctor_id)) or 0)


def _per_network(hub: Any, rows: Any) -> list[NetworkGrants]:
    by_client: dict[str, list[datetime]] = defaultdict(list)
    for client_id, created in rows:
        by_client[client_id].append(created)
    out = []
    for client_id, times in sorted(by_client.items()):
        client = hub.clients.get(client_id)
        out.append(NetworkGrants(client_id, client.name if client else client_id, len(times), max(times)))
    return out


# -- actions ------------------------------------------------------------------------------------
def set_suspended(hub: Any, doctor_id: str, suspended: bool, *, actor: str, reason: str,
                  address: str) -> bool:
    """Suspend (disable + end every session and grant) or unsuspend; False if unchanged."""
    with hub.db.session() as s:
        doctor = s.get(Doctor, doctor_id)
        if doctor is None:
            raise LookupError(doctor_id)
        if doctor.disabled == suspended:
            return False
        doctor.disabled = suspended
        # Same transaction: no suspension without its record, no record without the change.
        append(s, "doctor:account:suspend" if suspended else "doctor:account:unsuspend", actor=actor,
               address=address, detail={"doctor": doctor_id, "reason": reason})
    if suspended:
        hub.end_doctor_sessions(doctor_id, reason=SUSPEND_CODE, actor=actor)
    return True


def end_sessions(hub: Any, doctor_id: str, *, actor: str, reason: str, address: str) -> int:
    """End the doctor's SSO sessions and revoke every grant; returns how many grants died.

    ``hub.end_doctor_sessions`` records one admin:session:revoke naming who asked, why and
    for whom (and triggers single logout once it exists).
    """
    revoked = hub.end_doctor_sessions(doctor_id, reason=END_SESSIONS_CODE, actor=actor, note=reason,
                                      address=address)
    return len(revoked)
