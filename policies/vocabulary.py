"""The words policies and decisions are made of.

Every value here is part of a public contract: reason and remedy ids are read by the hub
and by partner operators, claim names appear in ID tokens. Add, never rename.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class AssuranceLevel(StrEnum):
    """How strongly a professional standing was established, weakest first.

    The order is the point: a rule's ``min_assurance_level`` is met by that level or any
    later one.
    """

    SELF_DECLARED = "self_declared"  # the doctor said so (honour system)
    REGISTER_MATCH = "register_match"  # name and number matched a public register
    REGISTER_AND_ID = "register_and_id"  # register match plus an identity document check
    PROFESSIONAL_EID = "professional_eid"  # a professional eID issued to the licence holder

    @property
    def rank(self) -> int:
        return _LEVEL_ORDER.index(self)


_LEVEL_ORDER: Final = tuple(AssuranceLevel)


class Reason(StrEnum):
    """Why a request was refused. Stable ids: the hub and operators key on them."""

    UNKNOWN_AREA = "unknown_area"
    PROFESSION_NOT_ACCEPTED = "profession_not_accepted"
    NOT_VERIFIED = "not_verified"  # no register-verified standing where one is needed
    ASSURANCE_TOO_LOW = "assurance_too_low"  # verified, but at a lower level than required
    REGISTER_NOT_ACCEPTED = "register_not_accepted"
    JURISDICTION_NOT_ACCEPTED = "jurisdiction_not_accepted"
    SPECIALTY_REQUIRED = "specialty_required"
    VERIFICATION_TOO_OLD = "verification_too_old"
    REGISTRATION_INACTIVE = "registration_inactive"  # withdrawn, suspended, lapsed, ...
    # The rule asks for an unrestricted licence; the doctor's is restricted (conditions,
    # undertakings, measures) or the register does not prove one (self-reported).
    UNRESTRICTED_LICENCE_REQUIRED = "unrestricted_licence_required"
    MFA_REQUIRED = "mfa_required"
    PASSKEY_REQUIRED = "passkey_required"  # the rule's min_acr is phishing-resistant
    ESSENTIAL_CLAIM_UNAVAILABLE = "essential_claim_unavailable"
    # The network itself lacks a trust mark the policy requires (OpenID Federation 1.0
    # section 7): nothing the doctor does can change that.
    TRUST_MARK_MISSING = "trust_mark_missing"


# Reasons the doctor cannot fix by verifying, renewing or signing in again: when one of
# them stands, the hub should not send the doctor round a loop that cannot succeed.
HARD_REASONS: Final = frozenset(
    {
        Reason.UNKNOWN_AREA,
        Reason.PROFESSION_NOT_ACCEPTED,
        Reason.REGISTER_NOT_ACCEPTED,
        Reason.JURISDICTION_NOT_ACCEPTED,
        Reason.SPECIALTY_REQUIRED,
        Reason.UNRESTRICTED_LICENCE_REQUIRED,
        Reason.TRUST_MARK_MISSING,
    }
)


class Remedy(StrEnum):
    """What the hub should offer on the refusal page."""

    START_VERIFICATION = "start_verification"
    RENEW_VERIFICATION = "renew_verification"
    ENABLE_MFA = "enable_mfa"  # step up if a second factor is enrolled, else enrol one
    ADD_PASSKEY = "add_passkey"  # sign in with a passkey, or add one from the account page
    VERIFY_EMAIL = "verify_email"
    DECLARE_PROFESSION = "declare_profession"


class SubjectType(StrEnum):
    """OpenID Connect Core 1.0 section 8: how ``sub`` is derived for this client."""

    PAIRWISE = "pairwise"
    PUBLIC = "public"


# The hub's Authentication Context Class References, weakest first.
ACR_PWD: Final = "urn:curbside:acr:pwd"
ACR_MFA: Final = "urn:curbside:acr:mfa"
# Phishing-resistant: a passkey (WebAuthn) was used, alone or as the second factor; its
# signature is bound to the hub's origin, so a look-alike site cannot relay it.
ACR_PHR: Final = "urn:curbside:acr:phr"
ACR_ORDER: Final = (ACR_PWD, ACR_MFA, ACR_PHR)

# Authentication Method Reference values the hub emits (RFC 8176 section 2).
AMR_PWD: Final = "pwd"
AMR_OTP: Final = "otp"
AMR_MFA: Final = "mfa"
AMR_PASSKEY: Final = frozenset({"hwk", "swk"})  # proof of possession of a key (passkeys)

class Licence(StrEnum):
    """What a register says of the licence behind a registration."""

    UNRESTRICTED = "unrestricted"  # licensed to practise, no conditions or measures
    RESTRICTED = "restricted"  # licensed, with conditions, undertakings or measures
    SELF_REPORTED = "self_reported"  # the register does not prove a licence (NPPES)


# Professions the hub records, on registrations and on honour-system declarations.
# A closed list so that a typo in a policy ("physican") is refused at load time instead
# of silently locking every doctor out.
PROFESSIONS: Final = (
    "physician",
    "dentist",
    "nurse",
    "midwife",
    "pharmacist",
    "physiotherapist",
    "psychologist",
    "paramedic",
)

# Claims the hub can release.
CLAIM_REGISTRATIONS: Final = "https://curbside.health/claims/registrations"
CLAIM_SELF_DECLARED_PROFESSION: Final = "https://curbside.health/claims/self_declared_profession"
CLAIM_VERIFIED_CLAIMS: Final = "verified_claims"  # OpenID Connect for Identity Assurance
CLAIMS: Final = (
    "sub",
    "name",
    "given_name",
    "family_name",
    "email",
    "email_verified",
    "locale",
    CLAIM_VERIFIED_CLAIMS,
    CLAIM_REGISTRATIONS,
    CLAIM_SELF_DECLARED_PROFESSION,
)
# OpenID Connect Core 1.0 section 2: the ID token always carries sub.
ALWAYS_RELEASED: Final = frozenset({"sub"})

# OpenID Connect Core 1.0 section 5.4, narrowed to the claims the hub actually holds.
SCOPE_CLAIMS: Final = {
    "openid": ("sub",),
    "profile": ("name", "given_name", "family_name", "locale"),
    "email": ("email", "email_verified"),
}


def claims_for_scopes(scopes: str | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """The claims a space-separated (or already split) scope value asks for."""
    names = scopes.split() if isinstance(scopes, str) else scopes
    return frozenset(claim for scope in names for claim in SCOPE_CLAIMS.get(scope, ()))
