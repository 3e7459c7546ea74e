"""Build OIDC4IDA 1.0 ``verified_claims`` from stored verification records.

One ``verified_claims`` element per verified registration: each has its own evidence,
time and assurance level, so a relying party's constraints (see
:func:`hub.verification.release.filter_verified_claims`) select exactly the registrations
that satisfy them. Person-level evidence (a reviewed identity document, colleagues'
vouches, a professional eID signature) is listed with every registration it supports.

Assurance levels (our trust framework, lowest first):

- ``register_match``: a register confirms an active physician's registration and the
  names (evidence: ``electronic_record``);
- ``register_and_id``: and a reviewed identity document confirms the same names
  (``document``);
- ``professional_eid``: the doctor signed with a professional eID whose holder is the
  registered person (``electronic_signature``).

Vouches are listed but raise no level. Registers that do not prove a licence (NPPES) cap
the level at ``register_match`` (see hub.verification.registry).

Every element's ``verification`` carries ``https://curbside.health/verification/licence``:
``unrestricted``, ``restricted`` (the register lists conditions, undertakings or measures;
such a registration is only released once a verifier approved it) or ``self_reported``
(the register does not prove a licence). A relying party constrains it like any
verification member, e.g. ``{"value": "unrestricted"}``; it is released even when not
asked for. An unlicensed registration (e.g. GMC "Registered without a Licence") is never
released at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hub.verification import names
from hub.verification.registry import REGISTERS
from hub.verification.release import filter_verified_claims
from hub.verification.vocabulary import (
    LICENCE_MEMBER,
    LICENCE_RESTRICTED,
    LICENCE_SELF_REPORTED,
    LICENCE_UNRESTRICTED,
    PROFESSIONAL_EID,
    REGISTER_AND_ID,
    REGISTER_MATCH,
    REGISTRATIONS_CLAIM,
    TRUST_FRAMEWORK,
    cap_level,
)

__all__ = [
    "DEFAULT_REQUEST",
    "DISCOVERY_METADATA",
    "PersonEvidence",
    "VerifiedRegistration",
    "assurance_level",
    "build_verified_claims",
    "filter_verified_claims",
    "render",
]

DISCOVERY_METADATA: dict[str, Any] = {
    "verified_claims_supported": True,
    "trust_frameworks_supported": [TRUST_FRAMEWORK],
    "evidence_supported": ["electronic_record", "document", "vouch", "electronic_signature"],
    "documents_supported": ["idcard", "passport", "driving_permit", "residence_permit"],
    "electronic_records_supported": ["professional_register"],
    "claims_in_verified_claims_supported": ["given_name", "family_name", REGISTRATIONS_CLAIM],
}


_CHECK_DETAILS: list[dict[str, None]] = [
    {"check_method": None, "organization": None, "time": None, "check_id": None}
]
_ISSUER = {"name": None, "country_code": None, "jurisdiction": None}
# What a relying party gets when it asks by scope instead of the claims parameter: every
# element with all its evidence, the verified names and the registrations. Written in the
# request syntax of OIDC4IDA 1.0, "Requesting Verified Claims" (``null`` = "this member,
# whole"). The request schema wants objects, not ``null``, for evidence ``type``,
# ``record``, ``document_details`` and ``attestation``, so their members are spelled out.
DEFAULT_REQUEST: dict[str, Any] = {
    "verification": {
        "trust_framework": None,
        "assurance_level": None,
        "time": None,
        "verification_process": None,
        LICENCE_MEMBER: None,
        "evidence": [
            {
                "type": {"value": "electronic_record"},
                "check_details": _CHECK_DETAILS,
                "record": {"type": None, "source": {"name": None, "country_code": None}},
            },
            {
                "type": {"value": "document"},
                "check_details": _CHECK_DETAILS,
                "document_details": {
                    "type": None,
                    "issuer": _ISSUER,
                    "date_of_issuance": None,
                    "date_of_expiry": None,
                },
            },
            {
                "type": {"value": "vouch"},
                "check_details": _CHECK_DETAILS,
                "attestation": {
                    "type": None,
                    "reference_number": None,
                    "date_of_issuance": None,
                    "voucher": {"occupation": None, "organization": None, "country_code": None},
                },
            },
            {
                "type": {"value": "electronic_signature"},
                "signature_type": None,
                "issuer": None,
                "serial_number": None,
                "created_at": None,
            },
        ],
    },
    "claims": {"given_name": None, "family_name": None, REGISTRATIONS_CLAIM: None},
}


@dataclass(frozen=True, slots=True)
class VerifiedRegistration:
    """A registration whose latest check matched (or whose review was approved)."""

    register: str
    number: str
    profession: str
    status: str  # the register entry's standing: active | restricted (reviewed)
    verified_at: datetime
    last_checked: datetime
    evidence: dict[str, Any]  # the electronic_record evidence of that check
    given_name: str | None = None  # names the register confirmed
    family_name: str | None = None
    specialties: tuple[str, ...] = ()
    registered_since: date | None = None


@dataclass(frozen=True, slots=True)
class PersonEvidence:
    """Evidence about the person: type is document | vouch | electronic_signature and
    ``details`` the OIDC4IDA members of that evidence besides ``type``."""

    type: str
    details: dict[str, Any] = field(default_factory=dict)
    given_name: str | None = None
    family_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **self.details}


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _same_person(reg: VerifiedRegistration, ev: PersonEvidence) -> bool:
    """The evidence names the same person as the register (family name at least)."""
    if not ev.family_name or not reg.family_name:
        return False
    m = names.match_names(
        ev.given_name or "", ev.family_name, register_given="", register_family=reg.family_name
    )
    return m.outcome is not names.Outcome.NO_MATCH


def _supporting(reg: VerifiedRegistration, evidence: Sequence[PersonEvidence]) -> list[PersonEvidence]:
    return [ev for ev in evidence if ev.type == "vouch" or _same_person(reg, ev)]


def assurance_level(reg: VerifiedRegistration, evidence: Sequence[PersonEvidence]) -> str:
    kinds = {ev.type for ev in _supporting(reg, evidence)}
    level = REGISTER_MATCH
    if "electronic_signature" in kinds:
        level = PROFESSIONAL_EID
    elif "document" in kinds:
        level = REGISTER_AND_ID
    return cap_level(level, REGISTERS[reg.register].max_level)


def licence_of(reg: VerifiedRegistration) -> str:
    """The licence member's value for a registration (see the module docstring)."""
    if reg.status == "restricted":
        return LICENCE_RESTRICTED
    if not REGISTERS[reg.register].proves_licence:
        return LICENCE_SELF_REPORTED
    return LICENCE_UNRESTRICTED


def _registration_claim(reg: VerifiedRegistration) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "profession": reg.profession,
        "jurisdiction": REGISTERS[reg.register].country,
        "register": reg.register,
        "number": reg.number,
        "status": reg.status,
        "specialties": list(reg.specialties),
        "last_checked": _iso(reg.last_checked),
    }
    if reg.registered_since:
        claim["registered_since"] = reg.registered_since.isoformat()
    return claim


def _names(reg: VerifiedRegistration, support: Sequence[PersonEvidence]) -> dict[str, str]:
    out: dict[str, str] = {}
    if reg.family_name:
        out["family_name"] = reg.family_name
    given = reg.given_name or next(
        (ev.given_name for ev in support if ev.type == "document" and ev.given_name), None
    )
    if given:
        out["given_name"] = given
    return out


def build_verified_claims(
    registrations: Sequence[VerifiedRegistration],
    evidence: Sequence[PersonEvidence] = (),
) -> list[dict[str, Any]]:
    """Every verified_claims element we could release for this doctor (before the
    relying party's request is applied)."""
    elements = []
    for reg in sorted(registrations, key=lambda r: (r.register, r.number)):
        support = _supporting(reg, evidence)
        elements.append(
            {
                "verification": {
                    "trust_framework": TRUST_FRAMEWORK,
                    "assurance_level": assurance_level(reg, evidence),
                    "time": _iso(reg.verified_at),
                    "verification_process": f"{reg.register}/{reg.number}/{_iso(reg.verified_at)}",
                    LICENCE_MEMBER: licence_of(reg),
                    "evidence": [reg.evidence, *(ev.to_json() for ev in support)],
                },
                "claims": {**_names(reg, support), REGISTRATIONS_CLAIM: [_registration_claim(reg)]},
            }
        )
    return elements


def render(elements: Sequence[dict[str, Any]]) -> dict[str, Any] | list[dict[str, Any]] | None:
    """The ``verified_claims`` value: nothing, one object, or an array."""
    if not elements:
        return None
    return dict(elements[0]) if len(elements) == 1 else list(elements)
