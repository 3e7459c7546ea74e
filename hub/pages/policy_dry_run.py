"""A policy dry run as an operator reads it: per sample doctor, the facts the policy saw,
allowed or denied, and why in words (the reason ids stay the contract for machines)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import policies
from hub.i18n import N_, ngettext
from hub.i18n import gettext as _
from policies import ACR_MFA, ACR_PHR, AssuranceLevel, Licence, Reason, SubjectFacts, Wording

REASON_WORDS: Mapping[Reason, str] = {
    Reason.UNKNOWN_AREA: N_("The request names an area the policy does not define."),
    Reason.PROFESSION_NOT_ACCEPTED: N_("Their profession is not one the policy accepts."),
    Reason.NOT_VERIFIED: N_("No register has confirmed a registration of theirs, and the policy needs one."),
    Reason.ASSURANCE_TOO_LOW: N_("Their registration was checked less thoroughly than the policy asks."),
    Reason.REGISTER_NOT_ACCEPTED: N_("Their registration is on a register the policy does not accept."),
    Reason.JURISDICTION_NOT_ACCEPTED: N_("They are licensed in a country the policy does not accept."),
    Reason.SPECIALTY_REQUIRED: N_("They have none of the specialties the policy requires."),
    Reason.VERIFICATION_TOO_OLD: N_("The register confirmed them longer ago than the policy allows."),
    Reason.REGISTRATION_INACTIVE: N_("Their registration is not active (withdrawn, suspended or lapsed)."),
    Reason.UNRESTRICTED_LICENCE_REQUIRED: N_("The policy needs an unrestricted licence; theirs is "
                                             "restricted, or the register does not prove it."),
    Reason.MFA_REQUIRED: N_("They signed in without a second factor, and the policy requires one."),
    Reason.PASSKEY_REQUIRED: N_("They signed in without a passkey, and the policy requires one."),
    Reason.ESSENTIAL_CLAIM_UNAVAILABLE: N_("A claim the request marks essential is not available for them."),
    Reason.TRUST_MARK_MISSING: N_("Your network's trust chain lacks a trust mark the policy requires: "
                                  "nobody enters until the federation grants it."),
}
LEVEL_WORDS: Mapping[AssuranceLevel, str] = {
    AssuranceLevel.SELF_DECLARED: N_("stated by the doctor, not checked"),
    AssuranceLevel.REGISTER_MATCH: N_("name and number matched the register"),
    AssuranceLevel.REGISTER_AND_ID: N_("matched the register and an identity document"),
    AssuranceLevel.PROFESSIONAL_EID: N_("a professional eID"),
}
LICENCE_WORDS: Mapping[Licence, str] = {
    Licence.UNRESTRICTED: "",
    Licence.RESTRICTED: N_("licence with conditions or measures"),
    Licence.SELF_REPORTED: N_("licence not proven by the register"),
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
    """In the operator's language, around the policy's own words (professions, specialties
    and statuses are the policy vocabulary's ids, registers and countries the hub's names)."""
    out = []
    for r in facts.registrations:
        days = max((now - r.verified_at).days, 0)
        line = ngettext("%(profession)s on %(register)s (%(country)s): %(level)s, confirmed %(num)s day ago",
                        "%(profession)s on %(register)s (%(country)s): %(level)s, confirmed %(num)s days ago",
                        days, profession=_words(r.profession).capitalize(),
                        register=wording.register(r.register), country=wording.country(r.country),
                        level=_(LEVEL_WORDS[r.assurance_level]))
        extra = [_("specialties: %(list)s", list=", ".join(_words(s) for s in r.specialties))
                 if r.specialties else "",
                 _("status: %(status)s", status=r.status) if r.status != "active" else "",
                 _(LICENCE_WORDS[r.licence]) if LICENCE_WORDS[r.licence] else ""]
        out.append("; ".join([line, *[e for e in extra if e]]))
    if facts.self_declared_profession:
        out.append(_("Says they are a %(profession)s (no register checked it)",
                     profession=_words(facts.self_declared_profession)))
    if not facts.registrations and not facts.self_declared_profession:
        out.append(_("No profession known"))
    out.append(_("Signed in with a passkey") if facts.acr == ACR_PHR
               else _("Signed in with two-step sign-in") if facts.acr == ACR_MFA
               else _("Signed in with a password only"))
    out.append(_("Email address verified") if facts.email_verified else _("Email address not verified"))
    return out


def dry_run(policy: policies.ClientPolicy, profiles: Mapping[str, SubjectFacts], now: datetime,
            wording: Wording) -> list[DryRunResult]:
    """Every sample doctor asks for every claim the policy may release, as a network would."""
    request = policies.AccessRequest(now=now, claims=frozenset(policy.allowed_claims))
    return [DryRunResult(name=name, allowed=d.allowed,
                         facts=facts_in_words(profiles[name], now, wording),
                         reasons=[_(REASON_WORDS[r]) if r in REASON_WORDS else str(r) for r in d.reasons],
                         reason_ids=[str(r) for r in d.reasons], message=d.message,
                         claims=sorted(d.claims_to_release))
            for name, d in policies.dry_run(policy, profiles, request, wording=wording)]
