"""Vouching: verified doctors attest that a colleague of their jurisdiction is who they say.

Closed networks do this by hand today. Here a vouch counts only while its voucher holds a
verified registration in the vouch's jurisdiction, and vouches become evidence (OIDC4IDA
1.0 evidence type ``vouch``, one per voucher, as the spec's ``attestation.voucher`` names
one person) once :data:`VOUCHES_NEEDED` distinct vouchers of one jurisdiction agree. The
claims builder lists them with the colleague's registrations; they raise no level.

The voucher's name is not put in the evidence: the voucher agreed to vouch to Curbside,
not to be named to every partner network the colleague signs in to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.persistence.db import utcnow
from hub.persistence.models.registers import DoctorRegistration, IdentityEvidence, Vouch
from hub.verification import records
from hub.verification.claims import PersonEvidence
from hub.verification.registry import REGISTERS
from hub.verification.vocabulary import CHECK_METHOD_DATA

VOUCHES_NEEDED = 2


def _alpha3(country: str) -> str:
    """OIDC4IDA's alpha-3 code for a country the hub has a register for."""
    return next((r.country_code for r in REGISTERS.values() if r.country == country), country)


class VouchRefused(ValueError):
    """The vouch cannot be recorded; the message is meant for the voucher."""


@dataclass(frozen=True, slots=True)
class VouchOutcome:
    jurisdiction: str
    vouches: int  # vouches that count for the colleague in that jurisdiction
    evidence_added: int


def verified_jurisdictions(session: Session, doctor_id: str) -> list[str]:
    """Countries (ISO 3166 alpha-2) where the doctor holds a verified registration."""
    registers = session.execute(
        select(DoctorRegistration.register).where(
            DoctorRegistration.doctor_id == doctor_id, DoctorRegistration.status == "match"
        )
    ).scalars()
    return sorted({REGISTERS[r].country for r in registers if r in REGISTERS})


def vouch(
    session: Session, voucher_id: str, vouchee_id: str, jurisdiction: str, *, now: datetime | None = None
) -> VouchOutcome:
    if voucher_id == vouchee_id:
        raise VouchRefused("You cannot vouch for yourself.")
    if jurisdiction not in verified_jurisdictions(session, voucher_id):
        raise VouchRefused("You can vouch only in a country where your own registration is verified.")
    existing = session.execute(
        select(Vouch).where(Vouch.voucher_id == voucher_id, Vouch.vouchee_id == vouchee_id)
    ).scalar_one_or_none()
    if existing is not None:
        raise VouchRefused("You have already vouched for this colleague.")
    session.add(Vouch(voucher_id=voucher_id, vouchee_id=vouchee_id, jurisdiction=jurisdiction,
                      created_at=now or utcnow()))
    session.flush()
    return settle(session, vouchee_id, jurisdiction, now=now)


def settle(
    session: Session, vouchee_id: str, jurisdiction: str, *, now: datetime | None = None
) -> VouchOutcome:
    """Make the evidence agree with the vouches that count now (idempotent): add evidence
    for counting vouches once there are enough, revoke it for the rest."""
    now = now or utcnow()
    vouches = list(
        session.execute(
            select(Vouch).where(Vouch.vouchee_id == vouchee_id, Vouch.jurisdiction == jurisdiction)
            .order_by(Vouch.id)
        ).scalars()
    )
    counting = [v for v in vouches if jurisdiction in verified_jurisdictions(session, v.voucher_id)]
    enough = len(counting) >= VOUCHES_NEEDED
    added = 0
    for v in vouches:
        live = session.get(IdentityEvidence, v.evidence_id) if v.evidence_id else None
        if live is not None and live.revoked_at is not None:
            live = None
        if enough and v in counting:
            if live is None:
                row = records.add_identity_evidence(
                    session, vouchee_id, _evidence(v, now), recorded_by=f"vouch:{v.voucher_id}",
                    verified_at=now,
                )
                session.flush()
                v.evidence_id = row.id
                added += 1
        elif live is not None:
            live.revoked_at = now
    return VouchOutcome(jurisdiction, len(counting), added)


def settle_vouches_by(session: Session, voucher_id: str, *, now: datetime | None = None) -> int:
    """After a voucher's registration was withdrawn: re-settle every colleague they vouched
    for. Returns how many colleagues were looked at."""
    pairs = {
        (v.vouchee_id, v.jurisdiction)
        for v in session.execute(select(Vouch).where(Vouch.voucher_id == voucher_id)).scalars()
    }
    for vouchee_id, jurisdiction in sorted(pairs):
        settle(session, vouchee_id, jurisdiction, now=now)
    return len(pairs)


def vouches_for(session: Session, vouchee_id: str) -> int:
    """How many vouches a doctor received (all jurisdictions, counting or not)."""
    return len(list(session.execute(select(Vouch.id).where(Vouch.vouchee_id == vouchee_id)).scalars()))


def _evidence(v: Vouch, now: datetime) -> PersonEvidence:
    # OIDC4IDA 1.0, evidence type "vouch": attestation with type, reference number,
    # date of issuance and the voucher's occupation/organisation; check_details say how
    # Curbside checked the voucher (their register-verified licence: check_method "data").
    return PersonEvidence(
        "vouch",
        {
            "attestation": {
                "type": "digital_attestation",
                "reference_number": f"curbside-vouch-{v.id}",
                "date_of_issuance": v.created_at.date().isoformat(),
                "voucher": {
                    "occupation": "physician",
                    "organization": "Curbside verified physicians",
                    "country_code": _alpha3(v.jurisdiction),
                },
            },
            "check_details": [
                {
                    "check_method": CHECK_METHOD_DATA,
                    "organization": "Curbside",
                    "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            ],
        },
    )
