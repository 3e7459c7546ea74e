"""A policy dry run as an operator reads it: per sample doctor, the facts the policy saw,
allowed or denied, and why in words (the reason ids stay the contract for machines)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import policies
from policies import ACR_MFA, ACR_PHR, AssuranceLevel, Licence, Reason, SubjectFacts, Wording

REASON_WORDS: Mapping[Reason, str] = {
    Reason.UNKNOWN_AREA: "The request names an area the policy does not define.",
    Reason.PROFESSION_NOT_ACCEPTED: "Their profession is not one the policy accepts.",
    Reason.NOT_VERIFIED: "No register has confirmed a registration of theirs, and the policy needs one.",
    Reason.ASSURANCE_TOO_LOW: "Their registration was checked less thoroughly than the policy asks.",
    Reason.REGISTER_NOT_ACCEPTED: "Their registration is on a register the policy does not accept.",
    Reason.JURISDICTION_NOT_ACCEPTED: "They are licensed in a country the policy does not accept.",
    Reason.SPECIALTY_REQUIRED: "They have none of the specialties the policy requires.",
    Reason.VERIFICATION_TOO_OLD: "The register confirmed them longer ago than the policy allows.",
    Reason.REGISTRATION_INACTIVE: "Their registration is not active (withdrawn, suspended or lapsed).",
    Reason.UNRESTRICTED_LICENCE_REQUIRED: "The policy needs an unrestricted licence; theirs is "
                                          "restricted, or the register does not prove it.",
    Reason.MFA_REQUIRED: "They signed in without a second factor, and the policy requires one.",
    Reason.PASSKEY_REQUIRED: "They signed in without a passkey, and the policy requires one.",
    Reason.ESSENTIAL_CLAIM_UNAVAILABLE: "A claim the request marks essential is not available for them.",
    Reason.TRUST_MARK_MISSING: "Your network's trust chain lacks a trust mark the policy requires: "
                               "nobody enters until the federation grants it.",
}
LEVEL_WORDS: Mapping[AssuranceLevel, str] = {
    AssuranceLevel.SELF_DECLARED: "stated by the doctor, not checked",
    AssuranceLevel.REGISTER_MATCH: "name and number matched the register",
    AssuranceLevel.REGISTER_AND_ID: "matched the register and an identity document",
    AssuranceLevel.PROFESSIONAL_EID: "a professional eID",
}
LICENCE_WORDS: Mapping[Licence, str] = {
    Licence.UNRESTRICTED: "",
    Licence.RESTRICTED: "licence with conditions or measures",
    Licence.SELF_REPORTED: "licence not proven by the register",
}


@dataclass(frozen=True)
class DryRunResult:
    name: str
    allowed: bool
    facts: list[str]
    reasons: list[str]  # in words, one sentence each
    reason_ids: list[str]  # Reason values, as the hub's audit log and the API name them
    message: str | None  # the sentence the refused doctor would read
    claims: list[str]  # released when allowed


def _words(value: str) -> str:
    return value.replace("_", " ")


def facts_in_words(facts: SubjectFacts, now: datetime, wording: Wording) -> list[str]:
    out = []
    for r in facts.registrations:
        days = max((now - r.verified_at).days, 0)
        line = (f"{_words(r.profession).capitalize()} on {wording.register(r.register)} "
                f"({wording.country(r.country)}): {LEVEL_WORDS[r.assurance_level]}, "
                f"confirmed {days} day{'s' if days != 1 else ''} ago")
        extra = [f"specialties: {', '.join(_words(s) for s in r.specialties)}" if r.specialties else "",
                 f"status: {r.status}" if r.status != "active" else "", LICENCE_WORDS[r.licence]]
        out.append("; ".join([line, *[e for e in extra if e]]))
    if facts.self_declared_profession:
        out.append(f"Says they are a {_words(facts.self_declared_profession)} (no register checked it)")
    if not facts.registrations and not facts.self_declared_profession:
        out.append("No profession known")
    out.append("Signed in with a passkey" if facts.acr == ACR_PHR
               else "Signed in with two-step sign-in" if facts.acr == ACR_MFA
               else "Signed in with a password only")
    out.append("Email address verified" if facts.email_verified else "Email address not verified")
    return out


def dry_run(policy: policies.ClientPolicy, profiles: Mapping[str, SubjectFacts], now: datetime,
            wording: Wording) -> list[DryRunResult]:
    """Every sample doctor asks for every claim the policy may release, as a network would."""
    request = policies.AccessRequest(now=now, claims=frozenset(policy.allowed_claims))
    return [DryRunResult(name=name, allowed=d.allowed,
                         facts=facts_in_words(profiles[name], now, wording),
                         reasons=[REASON_WORDS.get(r, str(r)) for r in d.reasons],
                         reason_ids=[str(r) for r in d.reasons], message=d.message,
                         claims=sorted(d.claims_to_release))
            for name, d in policies.dry_run(policy, profiles, request, wording=wording)]
