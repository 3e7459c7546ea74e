"""A policy may require the network to hold OpenID Federation trust marks."""

from __future__ import annotations

import pytest
from policy_makers import make_policy, make_registration, make_request, make_subject

from policies import PolicyError, Reason, decide, load_policy

MARK = "https://curbside.example/trust-marks/verified-physicians-only"


def test_a_network_without_the_required_trust_mark_admits_nobody() -> None:
    policy = make_policy(require_trust_marks=[MARK])
    doctor = make_subject(make_registration())
    refused = decide(policy, doctor, make_request("sub"))
    assert not refused.allowed and refused.reasons == (Reason.TRUST_MARK_MISSING,)
    assert refused.remedy is None and "trust mark" in (refused.message or "")
    other = decide(policy, doctor, make_request("sub", client_trust_marks={"https://other.example/mark"}))
    assert other.reasons == (Reason.TRUST_MARK_MISSING,)
    admitted = decide(policy, doctor, make_request("sub", client_trust_marks={MARK}))
    assert admitted.allowed


def test_the_trust_mark_does_not_replace_the_doctors_standing() -> None:
    policy = make_policy(require_trust_marks=[MARK])
    decision = decide(policy, make_subject(), make_request("sub", client_trust_marks={MARK}))
    assert not decision.allowed and Reason.NOT_VERIFIED in decision.reasons


def test_the_requirement_round_trips_and_leaves_other_digests_alone() -> None:
    policy = make_policy(require_trust_marks=[MARK])
    assert load_policy(policy.to_document()) == policy
    assert "require_trust_marks" not in make_policy().to_document()


@pytest.mark.parametrize("value", ["not-a-list", [""], [MARK, MARK], ["has space"]])
def test_a_malformed_requirement_names_the_field(value: object) -> None:
    with pytest.raises(PolicyError) as info:
        make_policy(require_trust_marks=value)
    assert "require_trust_marks" in str(info.value)
