"""Properties that must hold for every policy, doctor and request, not just the examples."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_makers import NOW, WORDING

from policies import (
    ACR_MFA,
    ACR_PWD,
    CLAIM_VERIFIED_CLAIMS,
    CLAIMS,
    AccessRequest,
    AssuranceLevel,
    ClientPolicy,
    Reason,
    Registration,
    SubjectFacts,
    decide,
    load_policy,
)
from policies.messages import COUNTRY_NAMES

COUNTRIES = ["DK", "SE", "NO", "NL", "GB", "US"]
REGISTERS = ["dk-sst", "se-hosp", "no-hpr", "nl-big", "uk-gmc", "us-nppes"]
SPECIALTIES = ["general_practice", "surgery", "psychiatry"]
PROFESSIONS = ["physician", "nurse", "dentist"]
LEVELS = [level.value for level in AssuranceLevel]
AREA_NAMES = ["clinical", "open"]

SETTINGS = settings(max_examples=150, deadline=None)


# Strategies are built once: building them inside @composite on every draw costs more
# than the decisions under test.
def subset(pool: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(pool), min_size=1, unique=True)


LEVEL = st.sampled_from(LEVELS)
OPTIONAL_RULE_PARTS: dict[str, st.SearchStrategy[Any]] = {
    "professions": subset(PROFESSIONS),
    "max_verification_age": st.integers(1, 2000).map(lambda d: f"P{d}D"),
    "jurisdictions": subset(COUNTRIES),
    "registers": subset(REGISTERS),
    "specialties": subset(SPECIALTIES),
    "min_acr": st.sampled_from([ACR_PWD, ACR_MFA]),
}
ALLOWED_CLAIMS = st.lists(st.sampled_from(CLAIMS), unique=True)
AREA_SETS = st.lists(st.sampled_from(AREA_NAMES), min_size=1, unique=True)


@st.composite
def access_rules(draw: st.DrawFn) -> dict[str, Any]:
    rule: dict[str, Any] = {"min_assurance_level": draw(LEVEL)}
    for key, strategy in OPTIONAL_RULE_PARTS.items():
        if draw(st.booleans()):
            rule[key] = draw(strategy)
    return rule


RULES = access_rules()


@st.composite
def policy_documents(draw: st.DrawFn) -> dict[str, Any]:
    allowed = draw(ALLOWED_CLAIMS)
    essential = [c for c in allowed if draw(st.booleans())]
    doc: dict[str, Any] = {
        "version": draw(st.integers(1, 10_000)),
        "subject_type": draw(st.sampled_from(["pairwise", "public"])),
        "claims": {"allowed": allowed, "essential": essential},
    }
    if draw(st.booleans()):
        doc["access"] = draw(RULES)
    else:
        names = draw(AREA_SETS)
        doc["areas"] = {name: draw(RULES) for name in names}
        doc["default_area"] = draw(st.sampled_from(names))
    return doc


policies_ = policy_documents().map(load_policy)

REGISTER = st.sampled_from(REGISTERS)
COUNTRY = st.sampled_from(COUNTRIES)
PROFESSION = st.sampled_from(PROFESSIONS)
REGISTER_LEVEL = st.sampled_from(LEVELS[1:])
DAYS_AGO = st.integers(-2, 2000)
STATUS = st.sampled_from(["active", "active", "withdrawn", "suspended"])
SPECIALTY_LISTS = st.lists(st.sampled_from(SPECIALTIES), unique=True)


@st.composite
def registrations(draw: st.DrawFn, status: str | None = None) -> Registration:
    return Registration(
        register=draw(REGISTER),
        country=draw(COUNTRY),
        profession=draw(PROFESSION),
        assurance_level=AssuranceLevel(draw(REGISTER_LEVEL)),
        verified_at=NOW - timedelta(days=draw(DAYS_AGO)),
        status=status or draw(STATUS),
        specialties=tuple(draw(SPECIALTY_LISTS)),
    )


REGISTRATION_LISTS = st.lists(registrations(), max_size=3)
SELF_DECLARED = st.none() | PROFESSION
ACR = st.sampled_from([None, ACR_PWD, ACR_MFA, "urn:elsewhere:acr"])
AMR = st.lists(st.sampled_from(["pwd", "otp", "mfa"]), unique=True)


@st.composite
def subjects(draw: st.DrawFn) -> SubjectFacts:
    return SubjectFacts(
        registrations=tuple(draw(REGISTRATION_LISTS)),
        self_declared_profession=draw(SELF_DECLARED),
        acr=draw(ACR),
        amr=tuple(draw(AMR)),
        email_verified=draw(st.booleans()),
    )


REQUESTED = st.lists(st.sampled_from([*CLAIMS, "phone_number"]))
AREA = st.sampled_from([None, None, *AREA_NAMES, "lounge"])
ACR_VALUES = st.lists(st.sampled_from([ACR_PWD, ACR_MFA, "urn:x"]), max_size=2)


@st.composite
def requests(draw: st.DrawFn) -> AccessRequest:
    return AccessRequest(
        now=NOW,
        claims=frozenset(draw(REQUESTED)),
        area=draw(AREA),
        acr_values=tuple(draw(ACR_VALUES)),
    )


@SETTINGS
@given(policies_, subjects(), requests())
def test_released_claims_were_requested_or_essential_and_allowed(
    policy: ClientPolicy, subject: SubjectFacts, request: AccessRequest
) -> None:
    decision = decide(policy, subject, request)
    wanted = request.claims | set(policy.essential_claims)
    assert decision.claims_to_release <= (wanted & set(policy.allowed_claims)) | {"sub"}
    if decision.allowed:
        assert "sub" in decision.claims_to_release
    else:
        assert decision.claims_to_release == frozenset()


@SETTINGS
@given(policies_, subjects(), requests())
def test_a_decision_is_consistent_with_itself(
    policy: ClientPolicy, subject: SubjectFacts, request: AccessRequest
) -> None:
    decision = decide(policy, subject, request)
    assert decision.allowed == (decision.reasons == ())
    assert (decision.message is None) == decision.allowed
    if decision.allowed:
        assert decision.remedy is None and decision.missing_essential == frozenset()
    else:
        assert decision.message is not None and decision.message.endswith(".")
    assert list(decision.reasons) == sorted(set(decision.reasons), key=list(Reason).index)
    assert (decision.policy_version, decision.policy_digest) == (policy.version, policy.digest)
    assert decision == decide(policy, subject, request)  # pure


@SETTINGS
@given(
    policies_,
    subjects(),
    requests(),
    st.lists(registrations(status="withdrawn"), min_size=1, max_size=3),
)
def test_withdrawn_registrations_never_change_who_gets_in(
    policy: ClientPolicy,
    subject: SubjectFacts,
    request: AccessRequest,
    withdrawn: list[Registration],
) -> None:
    with_withdrawn = SubjectFacts(
        registrations=(*subject.registrations, *withdrawn),
        self_declared_profession=subject.self_declared_profession,
        acr=subject.acr,
        amr=subject.amr,
        email_verified=subject.email_verified,
    )
    assert (
        decide(policy, with_withdrawn, request).allowed == decide(policy, subject, request).allowed
    )
    only_withdrawn = SubjectFacts(registrations=tuple(withdrawn), acr=ACR_MFA, email_verified=True)
    assert not decide(policy, only_withdrawn, request).allowed


@SETTINGS
@given(policies_, subjects(), requests())
def test_a_self_declared_profession_admits_only_where_the_minimum_is_self_declared(
    policy: ClientPolicy, subject: SubjectFacts, request: AccessRequest
) -> None:
    decision = decide(policy, subject, request)
    if decision.allowed and decision.registration is None:
        rule = policy.rule_for(request.area)
        assert rule is not None
        assert rule.min_assurance_level is AssuranceLevel.SELF_DECLARED
        assert decision.assurance_level is AssuranceLevel.SELF_DECLARED
    if decision.allowed and decision.registration is not None:
        assert decision.registration.active
        assert decision.registration in subject.registrations


@SETTINGS
@given(policies_, subjects(), requests())
def test_verified_claims_only_go_out_with_an_active_registration(
    policy: ClientPolicy, subject: SubjectFacts, request: AccessRequest
) -> None:
    decision = decide(policy, subject, request)
    if CLAIM_VERIFIED_CLAIMS in decision.claims_to_release:
        assert decision.registration is not None and decision.registration.active


@SETTINGS
@given(RULES, LEVEL, subjects(), requests())
def test_raising_the_minimum_level_never_lets_more_people_in(
    rule: dict[str, Any], stricter: str, subject: SubjectFacts, request: AccessRequest
) -> None:
    if LEVELS.index(stricter) < LEVELS.index(rule["min_assurance_level"]):
        stricter = rule["min_assurance_level"]
    claims = {"allowed": ["sub"]}
    loose = load_policy({"version": 1, "claims": claims, "access": rule})
    strict = load_policy(
        {"version": 1, "claims": claims, "access": rule | {"min_assurance_level": stricter}}
    )
    default_area = AccessRequest(
        now=request.now, claims=request.claims, acr_values=request.acr_values
    )
    if decide(strict, subject, default_area).allowed:
        assert decide(loose, subject, default_area).allowed


@SETTINGS
@given(policies_, subjects(), requests(), st.randoms(use_true_random=False))
def test_the_order_of_registrations_does_not_change_who_gets_in(
    policy: ClientPolicy, subject: SubjectFacts, request: AccessRequest, rnd: Any
) -> None:
    shuffled = list(subject.registrations)
    rnd.shuffle(shuffled)
    other = SubjectFacts(
        registrations=tuple(shuffled),
        self_declared_profession=subject.self_declared_profession,
        acr=subject.acr,
        amr=subject.amr,
        email_verified=subject.email_verified,
    )
    assert decide(policy, other, request).allowed == decide(policy, subject, request).allowed


@SETTINGS
@given(policy_documents())
def test_every_valid_document_round_trips_through_json_and_yaml(document: dict[str, Any]) -> None:
    policy = load_policy(document)
    assert load_policy(policy.to_document()) == policy
    assert load_policy(json.dumps(document), format="json") == policy
    assert load_policy(yaml.safe_dump(document), format="yaml") == policy


@SETTINGS
@given(policies_, subjects(), requests())
def test_a_refusal_names_countries_by_name(
    policy: ClientPolicy, subject: SubjectFacts, request: AccessRequest
) -> None:
    decision = decide(policy, subject, request, wording=WORDING)
    rule = policy.rule_for(request.area)
    rule_reasons = set(decision.reasons) - {Reason.UNKNOWN_AREA, Reason.ESSENTIAL_CLAIM_UNAVAILABLE}
    if rule is None or not rule_reasons or not rule.jurisdictions:
        return
    assert decision.message is not None
    without_registers = decision.message
    for name in WORDING.register_names.values():  # "the US NPPES registry" is a name, not a code
        without_registers = without_registers.replace(name, "")
    for code in rule.jurisdictions:
        assert COUNTRY_NAMES[code] in decision.message
        assert f" {code}" not in without_registers
