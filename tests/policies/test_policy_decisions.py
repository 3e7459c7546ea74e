"""decide(): who gets in, who is refused and why, and which claims go along."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from policy_makers import NOW, make_policy, make_registration, make_request, make_subject

from policies import (
    ACR_MFA,
    ACR_PHR,
    ACR_PWD,
    CLAIM_REGISTRATIONS,
    CLAIM_SELF_DECLARED_PROFESSION,
    CLAIM_VERIFIED_CLAIMS,
    AccessRequest,
    AssuranceLevel,
    Reason,
    Registration,
    Remedy,
    SubjectFacts,
    claims_for_scopes,
    decide,
)

PHYSICIANS = {"professions": ["physician"], "min_assurance_level": "register_match"}


# --- standings ---------------------------------------------------------------------------


def test_a_verified_physician_enters_and_the_registration_that_admitted_is_named() -> None:
    registration = make_registration()
    decision = decide(make_policy(), make_subject(registration), make_request())
    assert decision.allowed
    assert decision.reasons == () and decision.message is None and decision.remedy is None
    assert decision.registration == registration
    assert decision.assurance_level is AssuranceLevel.REGISTER_MATCH


def test_a_self_declared_profession_does_not_pass_a_register_rule() -> None:
    subject = make_subject(self_declared_profession="physician")
    decision = decide(make_policy(), subject, make_request())
    assert not decision.allowed
    assert decision.reasons == (Reason.NOT_VERIFIED,)
    assert decision.remedy is Remedy.START_VERIFICATION


def test_a_self_declared_profession_passes_a_self_declared_rule() -> None:
    policy = make_policy({"professions": ["physician"], "min_assurance_level": "self_declared"})
    decision = decide(policy, make_subject(self_declared_profession="physician"), make_request())
    assert decision.allowed
    assert decision.registration is None
    assert decision.assurance_level is AssuranceLevel.SELF_DECLARED


def test_a_self_declared_nurse_is_told_the_profession_and_not_offered_verification() -> None:
    decision = decide(make_policy(), make_subject(self_declared_profession="nurse"), make_request())
    assert decision.reasons == (Reason.PROFESSION_NOT_ACCEPTED, Reason.NOT_VERIFIED)
    assert decision.remedy is None  # verifying would not make a nurse a physician


@pytest.mark.parametrize("status", ["withdrawn", "suspended", "lapsed", "Active", ""])
def test_a_registration_that_is_not_active_never_counts(status: str) -> None:
    subject = make_subject(make_registration(status=status))
    decision = decide(make_policy(), subject, make_request())
    assert not decision.allowed
    assert decision.reasons == (Reason.NOT_VERIFIED, Reason.REGISTRATION_INACTIVE)
    assert decision.claims_to_release == frozenset()


def test_a_withdrawn_licence_is_noted_even_when_another_one_is_refused_for_its_country() -> None:
    subject = make_subject(
        make_registration(country="DK", status="withdrawn"),
        make_registration(country="NL", register="nl-big"),
    )
    policy = make_policy(PHYSICIANS | {"jurisdictions": ["DK"]})
    decision = decide(policy, subject, make_request())
    assert decision.reasons == (Reason.JURISDICTION_NOT_ACCEPTED, Reason.REGISTRATION_INACTIVE)


def test_a_lower_assurance_level_is_too_low_and_verification_is_offered() -> None:
    policy = make_policy(PHYSICIANS | {"min_assurance_level": "register_and_id"})
    decision = decide(policy, make_subject(make_registration()), make_request())
    assert decision.reasons == (Reason.ASSURANCE_TOO_LOW,)
    assert decision.remedy is Remedy.START_VERIFICATION


@pytest.mark.parametrize("level", ["register_and_id", "professional_eid"])
def test_a_higher_assurance_level_satisfies_a_lower_minimum(level: str) -> None:
    decision = decide(make_policy(), make_subject(make_registration(level=level)), make_request())
    assert decision.allowed


@pytest.mark.parametrize(
    ("age", "allowed"),
    [
        (timedelta(days=365), True),
        (timedelta(days=365, seconds=1), False),
        (timedelta(days=-2), True),  # clock skew: a verification "from the future" is fresh
    ],
)
def test_the_verification_age_limit_is_inclusive(age: timedelta, allowed: bool) -> None:
    policy = make_policy(PHYSICIANS | {"max_verification_age": "P365D"})
    registration = Registration(
        register="dk-sst",
        country="DK",
        profession="physician",
        assurance_level=AssuranceLevel.REGISTER_MATCH,
        verified_at=NOW - age,
    )
    decision = decide(policy, make_subject(registration), make_request())
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reasons == (Reason.VERIFICATION_TOO_OLD,)
        assert decision.remedy is Remedy.RENEW_VERIFICATION


def test_the_age_is_measured_against_the_requests_clock_whatever_the_zones() -> None:
    from zoneinfo import ZoneInfo

    policy = make_policy(PHYSICIANS | {"max_verification_age": "P1D"})
    verified = datetime(2026, 1, 1, 23, 30, tzinfo=ZoneInfo("Europe/Copenhagen"))
    registration = make_registration()
    registration = Registration(**{**registration.__dict__, "verified_at": verified})
    tokyo = ZoneInfo("Asia/Tokyo")
    later = AccessRequest(now=datetime(2026, 1, 3, 7, 29, tzinfo=tokyo))  # 23h59 later
    too_late = AccessRequest(now=datetime(2026, 1, 3, 7, 31, tzinfo=tokyo))  # 24h01 later
    assert decide(policy, make_subject(registration), later).allowed
    assert not decide(policy, make_subject(registration), too_late).allowed


def test_required_specialties_are_any_of() -> None:
    policy = make_policy(PHYSICIANS | {"specialties": ["general_practice", "psychiatry"]})
    gp = make_registration(specialties=("cardiology", "general_practice"))
    surgeon = make_registration(specialties=("surgery",))
    assert decide(policy, make_subject(gp), make_request()).allowed
    refused = decide(policy, make_subject(surgeon), make_request())
    assert refused.reasons == (Reason.SPECIALTY_REQUIRED,)
    assert refused.remedy is None


def test_registers_and_jurisdictions_are_checked_on_the_same_registration() -> None:
    policy = make_policy(PHYSICIANS | {"jurisdictions": ["GB"], "registers": ["uk-gmc"]})
    # A GMC registration for GB passes; a GB registration from another register does not.
    gmc = make_registration(country="GB", register="uk-gmc")
    other = make_registration(country="GB", register="uk-hcpc")
    assert decide(policy, make_subject(gmc), make_request()).allowed
    refused = decide(policy, make_subject(other), make_request())
    assert refused.reasons == (Reason.REGISTER_NOT_ACCEPTED,)


def test_one_good_registration_among_several_is_enough() -> None:
    policy = make_policy(PHYSICIANS | {"jurisdictions": ["SE"]})
    swedish = make_registration(country="SE", register="se-hosp")
    subject = make_subject(make_registration(country="NL", register="nl-big"), swedish)
    decision = decide(policy, subject, make_request())
    assert decision.allowed and decision.registration == swedish


def test_among_passing_registrations_the_strongest_then_freshest_admits() -> None:
    old_strong = make_registration(level="register_and_id", days_ago=200)
    new_weak = make_registration(level="register_match", days_ago=1)
    new_strong = make_registration(level="register_and_id", days_ago=5)
    subject = make_subject(new_weak, old_strong, new_strong)
    assert decide(make_policy(), subject, make_request()).registration == new_strong


def test_the_refusal_explains_the_registration_that_came_closest() -> None:
    # An old Danish registration could be renewed; a fresh Dutch one can never qualify.
    policy = make_policy(PHYSICIANS | {"jurisdictions": ["DK"], "max_verification_age": "P30D"})
    subject = make_subject(
        make_registration(country="NL", register="nl-big", days_ago=1),
        make_registration(country="DK", days_ago=400),
    )
    decision = decide(policy, subject, make_request())
    assert decision.reasons == (Reason.VERIFICATION_TOO_OLD,)
    assert decision.remedy is Remedy.RENEW_VERIFICATION


def test_nobody_at_all_is_not_verified() -> None:
    decision = decide(make_policy(), SubjectFacts(), make_request())
    assert decision.reasons == (Reason.NOT_VERIFIED,)
    assert decision.remedy is Remedy.START_VERIFICATION


def test_an_open_rule_offers_a_declaration_to_someone_with_no_profession_yet() -> None:
    policy = make_policy({"min_assurance_level": "self_declared"})
    decision = decide(policy, SubjectFacts(), make_request())
    assert decision.reasons == (Reason.NOT_VERIFIED,)
    assert decision.remedy is Remedy.DECLARE_PROFESSION


# --- session strength --------------------------------------------------------------------

MFA_RULE = PHYSICIANS | {"min_acr": ACR_MFA}


@pytest.mark.parametrize(
    ("acr", "amr", "allowed"),
    [
        (ACR_MFA, ("pwd", "otp"), True),
        (ACR_PWD, ("pwd",), False),
        # The hub's acr is the statement of record, even if amr looks stronger.
        (ACR_PWD, ("pwd", "otp"), False),
        # amr (RFC 8176) speaks only when the acr is not one of the hub's.
        (None, ("pwd", "otp"), True),
        (None, ("mfa",), True),
        ("urn:other:acr", ("pwd",), False),
        (None, (), False),
    ],
)
def test_a_rule_may_require_a_second_factor(
    acr: str | None, amr: tuple[str, ...], allowed: bool
) -> None:
    subject = make_subject(make_registration(), acr=acr, amr=amr)
    decision = decide(make_policy(MFA_RULE), subject, make_request())
    assert decision.allowed is allowed
    assert decision.required_acr == ACR_MFA
    if not allowed:
        assert decision.reasons == (Reason.MFA_REQUIRED,)
        assert decision.remedy is Remedy.ENABLE_MFA
        assert "second factor" in (decision.message or "")


PASSKEY_RULE = PHYSICIANS | {"min_acr": ACR_PHR}


@pytest.mark.parametrize(
    ("acr", "amr", "allowed"),
    [
        (ACR_PHR, ("hwk", "user", "mfa"), True),
        (ACR_PHR, ("pwd", "swk", "mfa"), True),
        (ACR_MFA, ("pwd", "otp", "mfa"), False),  # a code can be phished; a passkey cannot
        (ACR_PWD, ("pwd",), False),
        (None, ("hwk", "user"), True),  # amr speaks only when the acr is not the hub's
        (None, ("pwd", "otp", "mfa"), False),
    ],
)
def test_a_rule_may_require_a_passkey(acr: str | None, amr: tuple[str, ...], allowed: bool) -> None:
    decision = decide(make_policy(PASSKEY_RULE), make_subject(make_registration(), acr=acr, amr=amr),
                      make_request())
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reasons == (Reason.PASSKEY_REQUIRED,)
        assert decision.remedy is Remedy.ADD_PASSKEY
        assert "sign in with a passkey" in (decision.message or "")


def test_a_passkey_session_meets_a_second_factor_rule() -> None:
    subject = make_subject(make_registration(), acr=ACR_PHR, amr=("hwk", "user", "mfa"))
    assert decide(make_policy(MFA_RULE), subject, make_request()).allowed


@pytest.mark.parametrize(
    ("policy_acr", "acr_values", "required"),
    [
        (None, (ACR_MFA,), ACR_MFA),  # the client asks for MFA
        (None, (ACR_MFA, ACR_PWD), ACR_PWD),  # the client would take either
        (None, ("urn:someone:else",), None),  # not a value the hub issues: ignored
        (ACR_MFA, (ACR_PWD,), ACR_MFA),  # the client cannot lower the operator's floor
        (None, (), None),
    ],
)
def test_requested_acr_values_can_raise_but_not_lower_the_bar(
    policy_acr: str | None, acr_values: tuple[str, ...], required: str | None
) -> None:
    rule = PHYSICIANS | ({"min_acr": policy_acr} if policy_acr else {})
    subject = make_subject(make_registration(), acr=ACR_PWD, amr=("pwd",))
    decision = decide(make_policy(rule), subject, make_request(acr_values=acr_values))
    assert decision.required_acr == required
    assert decision.allowed is (required != ACR_MFA)


def test_an_unfixable_reason_hides_the_mfa_remedy() -> None:
    subject = make_subject(make_registration(country="NL"), acr=ACR_PWD)
    policy = make_policy(MFA_RULE | {"jurisdictions": ["DK"]})
    decision = decide(policy, subject, make_request())
    assert decision.reasons == (Reason.JURISDICTION_NOT_ACCEPTED, Reason.MFA_REQUIRED)
    assert decision.remedy is None


# --- claims ------------------------------------------------------------------------------

ALL_CLAIMS_POLICY = {
    "claims": {
        "allowed": [
            "sub",
            "name",
            "email",
            "email_verified",
            CLAIM_VERIFIED_CLAIMS,
            CLAIM_REGISTRATIONS,
            CLAIM_SELF_DECLARED_PROFESSION,
        ]
    }
}


def test_only_requested_and_allowed_claims_are_released_plus_sub() -> None:
    policy = make_policy(**ALL_CLAIMS_POLICY)
    request = make_request("name", "locale", "phone_number")  # locale not allowed
    decision = decide(policy, make_subject(make_registration()), request)
    assert decision.claims_to_release == {"sub", "name"}


def test_essential_claims_are_released_even_when_not_requested() -> None:
    claims = {"allowed": ["sub", "name", CLAIM_VERIFIED_CLAIMS], "essential": ["verified_claims"]}
    policy = make_policy(claims=claims)
    decision = decide(policy, make_subject(make_registration()), make_request("name"))
    assert decision.claims_to_release == {"sub", "name", CLAIM_VERIFIED_CLAIMS}


def test_an_unverified_email_is_withheld() -> None:
    policy = make_policy(**ALL_CLAIMS_POLICY)
    request = make_request("email", "email_verified", "name")
    verified = decide(policy, make_subject(make_registration()), request)
    unverified = decide(policy, make_subject(make_registration(), email_verified=False), request)
    assert verified.claims_to_release == {"sub", "name", "email", "email_verified"}
    assert unverified.claims_to_release == {"sub", "name"}


def test_entry_on_the_honour_system_never_yields_verified_claims() -> None:
    policy = make_policy({"min_assurance_level": "self_declared"}, **ALL_CLAIMS_POLICY)
    request = make_request(
        CLAIM_VERIFIED_CLAIMS, CLAIM_REGISTRATIONS, CLAIM_SELF_DECLARED_PROFESSION
    )
    decision = decide(policy, make_subject(self_declared_profession="nurse"), request)
    assert decision.allowed
    assert decision.claims_to_release == {"sub", CLAIM_SELF_DECLARED_PROFESSION}


def test_a_verified_doctor_gets_verified_claims_and_registrations_when_allowed() -> None:
    policy = make_policy(**ALL_CLAIMS_POLICY)
    request = make_request(
        CLAIM_VERIFIED_CLAIMS, CLAIM_REGISTRATIONS, CLAIM_SELF_DECLARED_PROFESSION
    )
    decision = decide(policy, make_subject(make_registration()), request)
    # No declaration was made, so there is no self-declared claim to release.
    assert decision.claims_to_release == {"sub", CLAIM_VERIFIED_CLAIMS, CLAIM_REGISTRATIONS}


def test_a_missing_essential_claim_refuses_and_says_what_to_do() -> None:
    claims = {"allowed": ["sub", "email", "email_verified"], "essential": ["email"]}
    policy = make_policy(claims=claims)
    subject = make_subject(make_registration(), email_verified=False)
    decision = decide(policy, subject, make_request())
    assert not decision.allowed
    assert decision.reasons == (Reason.ESSENTIAL_CLAIM_UNAVAILABLE,)
    assert decision.missing_essential == {"email"}
    assert decision.remedy is Remedy.VERIFY_EMAIL
    assert decision.claims_to_release == frozenset()
    assert decision.message == (
        "This network needs a verified email address, which your account does not have yet."
    )


def test_a_refusal_releases_nothing() -> None:
    policy = make_policy(**ALL_CLAIMS_POLICY)
    decision = decide(
        policy, make_subject(make_registration(profession="nurse")), make_request("name")
    )
    assert not decision.allowed and decision.claims_to_release == frozenset()


def test_claims_for_scopes_follows_openid_connect_core() -> None:
    assert claims_for_scopes("openid profile email") == {
        "sub",
        "name",
        "given_name",
        "family_name",
        "locale",
        "email",
        "email_verified",
    }
    assert claims_for_scopes(("openid", "unknown")) == {"sub"}


# --- areas and what every decision carries --------------------------------------------------

AREAS: dict[str, Any] = {
    "areas": {
        "clinical": PHYSICIANS,
        "open": {"min_assurance_level": "self_declared"},
    },
    "default_area": "open",
}


def test_the_request_names_the_area_and_the_default_area_applies_otherwise() -> None:
    policy = make_policy(**AREAS)
    nurse = make_subject(self_declared_profession="nurse")
    assert decide(policy, nurse, make_request()).allowed
    assert decide(policy, nurse, make_request()).area == "open"
    clinical = decide(policy, nurse, make_request(area="clinical"))
    assert not clinical.allowed and clinical.area == "clinical"


@pytest.mark.parametrize(
    ("area", "message"),
    [
        ("lounge", 'This network has no area called "lounge".'),
        ("", "This network has no such area."),
        # Request input is not echoed unless it could be an area name.
        ('<script>"', "This network has no such area."),
        ("x" * 200, "This network has no such area."),
    ],
)
def test_an_unknown_area_is_refused(area: str, message: str) -> None:
    for policy in (make_policy(**AREAS), make_policy()):
        decision = decide(policy, make_subject(make_registration()), make_request(area=area))
        assert decision.reasons == (Reason.UNKNOWN_AREA,)
        assert decision.remedy is None
        assert decision.message == message


def test_a_decision_cites_the_policy_and_the_subject_type() -> None:
    policy = make_policy(version=7, subject_type="public")
    for subject in (make_subject(make_registration()), SubjectFacts()):
        decision = decide(policy, subject, make_request())
        assert decision.policy_version == 7
        assert decision.policy_digest == policy.digest
        assert decision.subject_type == "public"


# --- facts that are a caller's bug ----------------------------------------------------------


def test_facts_refuse_what_would_make_a_decision_wrong() -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        AccessRequest(now=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        make_registration().__class__(
            register="dk-sst",
            country="DK",
            profession="physician",
            assurance_level=AssuranceLevel.REGISTER_MATCH,
            verified_at=naive,
        )
    with pytest.raises(ValueError, match="self_declared_profession"):
        make_registration(level="self_declared")
    with pytest.raises(ValueError, match="alpha-2"):
        make_registration(country="UK ")
    with pytest.raises(ValueError):
        make_registration(level="gold")
    with pytest.raises(ValueError, match="profession must be one of"):
        make_registration(profession="Physician")
    with pytest.raises(ValueError, match="self_declared_profession must be one of"):
        SubjectFacts(self_declared_profession="doctor")
    with pytest.raises(TypeError, match="single string"):
        AccessRequest(now=NOW, claims="email")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single string"):
        AccessRequest(now=NOW, acr_values=ACR_MFA)  # type: ignore[arg-type]


def test_collections_are_frozen_so_facts_and_decisions_are_hashable() -> None:
    request = AccessRequest(now=NOW, claims={"name"}, acr_values=[ACR_MFA])  # type: ignore[arg-type]
    subject = SubjectFacts(registrations=[make_registration()], amr=["pwd"])  # type: ignore[arg-type]
    assert isinstance(request.claims, frozenset)
    policy = make_policy()
    decision = decide(policy, subject, request)
    assert hash(decision) == hash(decide(make_policy(), subject, request))
    assert hash(policy) == hash(make_policy())
