"""Names from our own trust framework and the OpenID Connect for Identity Assurance 1.0
vocabulary, in one place so every module (and the integrator) spells them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Our own trust framework (OIDC4IDA 1.0 allows any URI as trust_framework value).
TRUST_FRAMEWORK: Final = "https://curbside.health/trust-framework/physician"

# Assurance levels of that framework, lowest first. Order matters: comparisons use it.
REGISTER_MATCH: Final = "register_match"  # a register confirms an active licence + names
REGISTER_AND_ID: Final = "register_and_id"  # ...and an identity document was checked
PROFESSIONAL_EID: Final = "professional_eid"  # ...the doctor signed with a professional eID
ASSURANCE_LEVELS: Final = (REGISTER_MATCH, REGISTER_AND_ID, PROFESSIONAL_EID)

# Claims. The registrations claim lives inside verified_claims/claims; the self-declared
# profession is what the doctor typed in and is never put inside verified_claims.
REGISTRATIONS_CLAIM: Final = "https://curbside.health/claims/registrations"
SELF_DECLARED_CLAIM: Final = "https://curbside.health/claims/self_declared_profession"

PROFESSION_PHYSICIAN: Final = "physician"

# A member of every verified_claims ``verification`` (OIDC4IDA 1.0 allows members of its
# own there): what the register says of the licence. An RP that must only admit doctors
# free to practise asks for it with {"value": "unrestricted"} and gets no element for the
# others; it is always released, so no element travels without it.
LICENCE_MEMBER: Final = "https://curbside.health/verification/licence"
LICENCE_UNRESTRICTED: Final = "unrestricted"  # licensed, no conditions, undertakings, measures
LICENCE_RESTRICTED: Final = "restricted"  # licensed with them (released after a review only)
LICENCE_SELF_REPORTED: Final = "self_reported"  # the register does not prove a licence

# Record type for an electronic_record taken from a professional register.
RECORD_TYPE_REGISTER: Final = "professional_register"
# OIDC4IDA check_method "data": the data was checked against an authoritative source.
CHECK_METHOD_DATA: Final = "data"
# OIDC4IDA check_method "vpip": validity check of a physical document, done by a person.
CHECK_METHOD_VPIP: Final = "vpip"


@dataclass(frozen=True, slots=True)
class RegisterInfo:
    """What the evidence says about a register; each register module declares its own
    (``INFO``) and hub.verification.registry lists them. ``country_code`` is the ISO 3166
    alpha-3 code OIDC4IDA asks for in ``record.source.country_code``; ``country`` is alpha-2
    as doctors and partner networks use it."""

    id: str
    country: str
    country_code: str
    source_name: str
    organization: str
    # The highest assurance level evidence from this register can support.
    max_level: str
    proves_licence: bool = True


def level_rank(level: str | None) -> int:
    """0 for no level; otherwise 1 + position in ASSURANCE_LEVELS."""
    if level is None:
        return 0
    return ASSURANCE_LEVELS.index(level) + 1


def cap_level(level: str, cap: str) -> str:
    return level if level_rank(level) <= level_rank(cap) else cap
