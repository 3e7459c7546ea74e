"""One plain sentence for the refusal page, written from the policy itself.

The sentence says who the network accepts, not what the hub found out about the doctor:
the page is shown to the doctor, but it is the operator's rule it explains, so the
operator can also preview it (``describe_access``). English only for now; the hub can
key translations on the Decision's reason ids instead of on this text.

Register names are not policies' to know: the hub hands them in as a :class:`Wording`
built from its register table, so a new register needs no change here. Without one, a
register is named by its id ("the se-hosp register") and a country by
:data:`COUNTRY_NAMES` or its code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from policies.model import AccessRule, ClientPolicy
from policies.vocabulary import (
    ACR_PHR,
    CLAIM_REGISTRATIONS,
    CLAIM_SELF_DECLARED_PROFESSION,
    CLAIM_VERIFIED_CLAIMS,
    AssuranceLevel,
    Reason,
)

# ISO 3166-1 alpha-2: the EU and EEA, Switzerland and the English-speaking registers the
# hub verifies against. A code missing here is shown as the code itself.
COUNTRY_NAMES: Final = {
    "AT": "Austria",
    "BE": "Belgium",
    "BG": "Bulgaria",
    "CY": "Cyprus",
    "CZ": "Czechia",
    "DE": "Germany",
    "DK": "Denmark",
    "EE": "Estonia",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "GR": "Greece",
    "HR": "Croatia",
    "HU": "Hungary",
    "IE": "Ireland",
    "IT": "Italy",
    "LT": "Lithuania",
    "LU": "Luxembourg",
    "LV": "Latvia",
    "MT": "Malta",
    "NL": "the Netherlands",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "SE": "Sweden",
    "SI": "Slovenia",
    "SK": "Slovakia",
    "IS": "Iceland",
    "LI": "Liechtenstein",
    "NO": "Norway",
    "CH": "Switzerland",
    "GB": "the United Kingdom",
    "US": "the United States",
    "CA": "Canada",
    "AU": "Australia",
    "NZ": "New Zealand",
}



@dataclass(frozen=True)
class Wording:
    """Names the sentences use: ``register_names`` by register id ("the Dutch BIG
    register"), ``country_names`` by ISO 3166-1 alpha-2 code, over :data:`COUNTRY_NAMES`."""

    register_names: Mapping[str, str] = field(default_factory=dict)
    country_names: Mapping[str, str] = field(default_factory=dict)

    def register(self, register_id: str) -> str:
        return self.register_names.get(register_id) or f"the {register_id} register"

    def country(self, code: str) -> str:
        return self.country_names.get(code) or COUNTRY_NAMES.get(code, code)


PLAIN: Final = Wording()

_CLAIM_NEEDS: Final = {
    CLAIM_VERIFIED_CLAIMS: "a verified professional registration",
    CLAIM_REGISTRATIONS: "a verified professional registration",
    CLAIM_SELF_DECLARED_PROFESSION: "a profession you have stated yourself",
    "email": "a verified email address",
    "email_verified": "a verified email address",
}


def country_name(code: str) -> str:
    return COUNTRY_NAMES.get(code, code)


def join_words(words: Iterable[str], conjunction: str = "or") -> str:
    """ "A", "A or B", "A, B or C" (no serial comma, as on the partners' own pages)."""
    items = list(dict.fromkeys(words))
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _verification(rule: AccessRule, wording: Wording) -> str:
    registers = join_words(wording.register(r) for r in rule.registers or ())
    level = rule.min_assurance_level
    if level is AssuranceLevel.REGISTER_MATCH:
        return f"verified against {registers}" if registers else "verified"
    if level is AssuranceLevel.REGISTER_AND_ID:
        return f"verified against {registers or 'a professional register'} and an identity document"
    if level is AssuranceLevel.PROFESSIONAL_EID:
        listed = f" and listed in {registers}" if registers else ""
        return f"verified with a professional eID{listed}"
    return ""


def describe_rule(
    rule: AccessRule,
    area: str | None,
    *,
    mention_age: bool = True,
    mention_mfa: bool = True,
    wording: Wording = PLAIN,
) -> str:
    """The sentence for one rule; ``mention_*`` leave out clauses that are beside the point."""
    who = join_words(f"{p.replace('_', ' ')}s" for p in rule.professions or ())
    who = who or "health professionals"
    place = (
        f" in {join_words(wording.country(c) for c in rule.jurisdictions)}"
        if rule.jurisdictions
        else ""
    )
    age = ""
    if mention_age and rule.max_verification_age is not None:
        days = rule.max_verification_age.days
        age = " within the last day" if days == 1 else f" within the last {days} days"
    verification = _verification(rule, wording)
    if not verification:
        core = f"{who}{place}, whether self-declared or verified{age}"
    elif verification == "verified":
        core = f"{who} verified{place}{age}" if place or age else f"verified {who}"
    else:
        core = f"{who}{place} {verification}{age}"
    if rule.unrestricted_licence:
        core += ", with an unrestricted licence"
    if rule.specialties:
        core += f", with a specialty in {join_words(s.replace('_', ' ') for s in rule.specialties)}"
    if mention_mfa:
        # The comma keeps "... or psychiatry, and asks" from reading as a third specialty.
        how = "a passkey" if rule.min_acr == ACR_PHR else "a second factor"
        core += f"{',' if rule.specialties else ''} and asks them to sign in with {how}"
    opening = "This network" if area is None else f"The {area} area of this network"
    return f"{opening} accepts {core}."


def describe_access(
    policy: ClientPolicy, area: str | None = None, *, wording: Wording = PLAIN
) -> str:
    """The full rule of an area in one sentence, for the operator portal."""
    rule = policy.rule_for(area)
    if rule is None:
        return unknown_area_message(area or "")
    return describe_rule(
        rule, policy.area_name(area), mention_mfa=rule.min_acr is not None, wording=wording
    )


_AREA_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def unknown_area_message(area: str) -> str:
    # The name comes from the client's request: echo it only if it could be an area name.
    if _AREA_NAME.fullmatch(area):
        return f'This network has no area called "{area}".'
    return "This network has no such area."


def trust_mark_missing_message() -> str:
    return ("This network does not hold the trust mark its access policy requires, "
            "so no one can sign in to it through Curbside for now.")


def refusal_message(
    rule: AccessRule,
    area: str | None,
    reasons: Iterable[Reason],
    missing_essential: Iterable[str] = (),
    *,
    wording: Wording = PLAIN,
) -> str:
    """The sentence for a refusal: the rule, with the clauses the reasons point at."""
    found = set(reasons)
    missing = sorted(missing_essential)
    if found == {Reason.ESSENTIAL_CLAIM_UNAVAILABLE} and missing:
        needs = join_words(
            (_CLAIM_NEEDS.get(c, f"your {c.replace('_', ' ')}") for c in missing), "and"
        )
        opening = "This network" if area is None else f"The {area} area of this network"
        return f"{opening} needs {needs}, which your account does not have yet."
    return describe_rule(
        rule,
        area,
        mention_age=Reason.VERIFICATION_TOO_OLD in found,
        mention_mfa=bool(found & {Reason.MFA_REQUIRED, Reason.PASSKEY_REQUIRED}),
        wording=wording,
    )
