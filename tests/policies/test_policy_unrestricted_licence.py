"""A network can require an unrestricted licence: a register-verified licence with
conditions, undertakings or measures (or one the register does not prove) is refused."""

from __future__ import annotations

import dataclasses

import pytest
from policy_makers import make_policy, make_registration, make_request, make_subject

from policies import Licence, PolicyError, Reason, decide, describe_access, load_policy

STRICT = {"professions": ["physician"], "min_assurance_level": "register_match", "unrestricted_licence": True}
LENIENT = {"professions": ["physician"], "min_assurance_level": "register_match"}


def licensed(licence: Licence, **kw: object):
    return dataclasses.replace(make_registration(**kw), licence=licence)


def test_an_unrestricted_licence_enters_a_network_that_requires_one() -> None:
    decision = decide(make_policy(STRICT), make_subject(licensed(Licence.UNRESTRICTED)), make_request())
    assert decision.allowed


@pytest.mark.parametrize("licence", [Licence.RESTRICTED, Licence.SELF_REPORTED])
def test_a_restricted_or_unproven_licence_is_refused_with_its_reason_and_no_loop(licence: Licence) -> None:
    decision = decide(make_policy(STRICT), make_subject(licensed(licence)), make_request("verified_claims"))
    assert not decision.allowed
    assert decision.reasons == (Reason.UNRESTRICTED_LICENCE_REQUIRED,)
    assert decision.remedy is None  # verifying again would not lift the conditions
    assert decision.claims_to_release == frozenset()
    assert "with an unrestricted licence" in (decision.message or "")


def test_a_restricted_licence_still_counts_where_the_rule_does_not_ask() -> None:
    decision = decide(make_policy(LENIENT), make_subject(licensed(Licence.RESTRICTED)), make_request())
    assert decision.allowed


def test_another_unrestricted_licence_admits_the_doctor() -> None:
    subject = make_subject(licensed(Licence.RESTRICTED, register="uk-gmc", country="GB"),
                           licensed(Licence.UNRESTRICTED))
    decision = decide(make_policy(STRICT), subject, make_request())
    assert decision.allowed and decision.registration is not None
    assert decision.registration.licence is Licence.UNRESTRICTED


def test_the_requirement_is_a_policy_field() -> None:
    policy = make_policy(STRICT)
    assert policy.access is not None and policy.access.unrestricted_licence
    assert load_policy(policy.to_document()) == policy
    assert "with an unrestricted licence" in describe_access(policy)
    # Absent means false, and leaves existing policies' digests as they were.
    assert "unrestricted_licence" not in make_policy(LENIENT).to_document()["access"]
    with pytest.raises(PolicyError) as err:
        make_policy({**STRICT, "unrestricted_licence": "yes"})
    assert err.value.problems[0].path == "/access/unrestricted_licence"


def test_an_unknown_licence_value_is_a_bug_in_the_caller() -> None:
    with pytest.raises(ValueError):
        licensed("conditional")  # type: ignore[arg-type]
