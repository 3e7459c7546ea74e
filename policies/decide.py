"""decide(): may this doctor enter this client (or area), and which claims go along.

A doctor holds zero or more *standings*: each active registration, and the honour-system
declaration if there is one. Entry needs one standing that meets every condition of the
rule, plus a session strong enough. When none does, the refusal explains the standing
that came closest, so the remedy offered is one that can actually work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from policies.facts import AccessRequest, Registration, SubjectFacts
from policies.messages import (
    PLAIN,
    Wording,
    refusal_message,
    trust_mark_missing_message,
    unknown_area_message,
)
from policies.model import AccessRule, ClientPolicy
from policies.release import claims_to_release
from policies.vocabulary import (
    ACR_MFA,
    ACR_ORDER,
    ACR_PHR,
    AMR_MFA,
    AMR_OTP,
    AMR_PASSKEY,
    AMR_PWD,
    CLAIM_REGISTRATIONS,
    CLAIM_SELF_DECLARED_PROFESSION,
    CLAIM_VERIFIED_CLAIMS,
    HARD_REASONS,
    AssuranceLevel,
    Licence,
    Reason,
    Remedy,
    SubjectType,
)


@dataclass(frozen=True)
class Decision:
    """The answer for one request. On refusal nothing is released."""

    allowed: bool
    reasons: tuple[Reason, ...]  # empty when allowed; in Reason's declaration order
    message: str | None  # one sentence for the refusal page; None when allowed
    remedy: Remedy | None  # what to offer the doctor; None when nothing they do would help
    claims_to_release: frozenset[str]
    missing_essential: frozenset[str]  # essential claims the doctor cannot supply
    subject_type: SubjectType
    policy_version: int
    policy_digest: str
    area: str | None = None  # the area judged; None is the unnamed default
    registration: Registration | None = None  # the one that admitted; feeds verified_claims
    assurance_level: AssuranceLevel | None = None  # of the standing that admitted
    required_acr: str | None = None  # the acr the session had to reach, if any


@dataclass(frozen=True)
class _Standing:
    profession: str
    level: AssuranceLevel
    registration: Registration | None  # None: self-declared


def _standings(subject: SubjectFacts) -> list[_Standing]:
    # A withdrawn, suspended or lapsed licence never counts, whatever else it says.
    found = [
        _Standing(r.profession, r.assurance_level, r) for r in subject.registrations if r.active
    ]
    if subject.self_declared_profession is not None:
        found.append(
            _Standing(subject.self_declared_profession, AssuranceLevel.SELF_DECLARED, None)
        )
    return found


def _shortfalls(rule: AccessRule, standing: _Standing, now: datetime) -> list[Reason]:
    found: list[Reason] = []
    if rule.professions is not None and standing.profession not in rule.professions:
        found.append(Reason.PROFESSION_NOT_ACCEPTED)
    reg = standing.registration
    if reg is None and rule.min_assurance_level is not AssuranceLevel.SELF_DECLARED:
        # Where the rule needs a register, a declaration is "not verified"; its country,
        # register and specialties are unknown rather than wrong, so they are not listed.
        found.append(Reason.NOT_VERIFIED)
        return found
    if standing.level.rank < rule.min_assurance_level.rank:
        found.append(Reason.ASSURANCE_TOO_LOW)
    if rule.registers is not None and (reg is None or reg.register not in rule.registers):
        found.append(Reason.REGISTER_NOT_ACCEPTED)
    if rule.jurisdictions is not None and (reg is None or reg.country not in rule.jurisdictions):
        found.append(Reason.JURISDICTION_NOT_ACCEPTED)
    if rule.specialties is not None and (
        reg is None or not set(reg.specialties) & set(rule.specialties)
    ):
        found.append(Reason.SPECIALTY_REQUIRED)
    if rule.unrestricted_licence and (reg is None or reg.licence is not Licence.UNRESTRICTED):
        found.append(Reason.UNRESTRICTED_LICENCE_REQUIRED)
    age = rule.max_verification_age
    if age is not None and reg is not None and now - reg.verified_at > age:
        found.append(Reason.VERIFICATION_TOO_OLD)
    return found


def _closest(
    rule: AccessRule, standings: list[_Standing], now: datetime
) -> tuple[_Standing | None, list[Reason]]:
    """The standing that admits (or came closest): fewest unfixable, then fewest
    shortfalls; among equals the highest level, then the freshest verification."""
    best: tuple[tuple[int, int, int, float], _Standing, list[Reason]] | None = None
    for standing in standings:
        found = _shortfalls(rule, standing, now)
        reg = standing.registration
        key = (
            sum(r in HARD_REASONS for r in found),
            len(found),
            -standing.level.rank,
            -(reg.verified_at.timestamp() if reg else float("-inf")),
        )
        if best is None or key < best[0]:
            best = (key, standing, found)
    if best is None:
        return None, [Reason.NOT_VERIFIED]
    return best[1], best[2]


def _required_acr(rule: AccessRule, requested: tuple[str, ...]) -> str | None:
    # acr_values lists what the client would accept (OpenID Connect Core 1.0 section
    # 3.1.2.1), so the weakest known value is its demand; values we do not issue are
    # ignored. The policy's min_acr is a floor the client cannot lower.
    demands = [rule.min_acr] if rule.min_acr else []
    known = [v for v in requested if v in ACR_ORDER]
    if known:
        demands.append(min(known, key=ACR_ORDER.index))
    return max(demands, key=ACR_ORDER.index) if demands else None


def _session_reaches(subject: SubjectFacts, required: str) -> bool:
    # The hub's acr is the statement of record (ACR_ORDER, weakest first: a stronger one
    # meets a weaker demand); amr (RFC 8176) is read only when the acr is not one of ours,
    # e.g. a session begun at a linked network.
    if subject.acr in ACR_ORDER:
        return ACR_ORDER.index(subject.acr) >= ACR_ORDER.index(required)
    methods = set(subject.amr)
    if required == ACR_PHR:
        return bool(AMR_PASSKEY & methods)
    if required == ACR_MFA:
        return AMR_MFA in methods or {AMR_PWD, AMR_OTP} <= methods
    return True


def _remedy(
    rule: AccessRule | None, reasons: Iterable[Reason], missing_essential: frozenset[str]
) -> Remedy | None:
    found = set(reasons)
    if rule is None or found & HARD_REASONS:
        return None
    if Reason.NOT_VERIFIED in found and rule.min_assurance_level is AssuranceLevel.SELF_DECLARED:
        return Remedy.DECLARE_PROFESSION  # quicker than a register check, and enough here
    if found & {Reason.NOT_VERIFIED, Reason.ASSURANCE_TOO_LOW}:
        return Remedy.START_VERIFICATION
    if found & {Reason.VERIFICATION_TOO_OLD, Reason.REGISTRATION_INACTIVE}:
        return Remedy.RENEW_VERIFICATION
    if Reason.MFA_REQUIRED in found:
        return Remedy.ENABLE_MFA
    if Reason.PASSKEY_REQUIRED in found:
        return Remedy.ADD_PASSKEY
    if missing_essential & {CLAIM_VERIFIED_CLAIMS, CLAIM_REGISTRATIONS}:
        return Remedy.START_VERIFICATION
    if CLAIM_SELF_DECLARED_PROFESSION in missing_essential:
        return Remedy.DECLARE_PROFESSION
    if missing_essential & {"email", "email_verified"}:
        return Remedy.VERIFY_EMAIL
    return None


def decide(
    policy: ClientPolicy,
    subject: SubjectFacts,
    request: AccessRequest,
    *,
    wording: Wording = PLAIN,
) -> Decision:
    """Judge one request against one policy. Pure: same inputs, same Decision.
    ``wording`` names registers and countries in the refusal sentence (the hub's)."""
    area = policy.area_name(request.area)
    rule = policy.rule_for(request.area)
    if not set(policy.required_trust_marks) <= request.client_trust_marks:
        return _answer(policy, area, rule, reasons=[Reason.TRUST_MARK_MISSING],
                       message=trust_mark_missing_message())
    if rule is None:
        return _answer(
            policy,
            area,
            None,
            reasons=[Reason.UNKNOWN_AREA],
            message=unknown_area_message(str(request.area)),
        )

    standing, reasons = _closest(rule, _standings(subject), request.now)
    required_acr = _required_acr(rule, request.acr_values)
    if required_acr is not None and not _session_reaches(subject, required_acr):
        reasons.append(Reason.PASSKEY_REQUIRED if required_acr == ACR_PHR else Reason.MFA_REQUIRED)
    release: frozenset[str] = frozenset()
    missing: frozenset[str] = frozenset()
    if standing is not None and not reasons:
        # Essential claims are judged only once the doctor may enter: before that the
        # refusal is about the rule, and "no verified registration" would say it twice.
        release, missing = claims_to_release(policy, subject, request.claims, standing.registration)
        if missing:
            reasons.append(Reason.ESSENTIAL_CLAIM_UNAVAILABLE)
    if reasons and any(not r.active for r in subject.registrations):
        reasons.append(Reason.REGISTRATION_INACTIVE)

    if reasons or standing is None:
        return _answer(
            policy,
            area,
            rule,
            reasons=reasons,
            message=refusal_message(rule, area, reasons, missing, wording=wording),
            missing=missing,
            required_acr=required_acr,
        )
    return _answer(
        policy, area, rule, release=release, standing=standing, required_acr=required_acr
    )


def _answer(
    policy: ClientPolicy,
    area: str | None,
    rule: AccessRule | None,
    *,
    reasons: Iterable[Reason] = (),
    message: str | None = None,
    release: frozenset[str] = frozenset(),
    missing: frozenset[str] = frozenset(),
    standing: _Standing | None = None,
    required_acr: str | None = None,
) -> Decision:
    found = set(reasons)
    ordered = tuple(r for r in Reason if r in found)
    return Decision(
        allowed=not ordered,
        reasons=ordered,
        message=message,
        remedy=_remedy(rule, ordered, missing) if ordered else None,
        claims_to_release=release if not ordered else frozenset(),
        missing_essential=missing,
        subject_type=policy.subject_type,
        policy_version=policy.version,
        policy_digest=policy.digest,
        area=area,
        registration=standing.registration if standing and not ordered else None,
        assurance_level=standing.level if standing and not ordered else None,
        required_acr=required_acr,
    )
