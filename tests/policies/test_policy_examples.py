"""The shipped example policies, run over the shipped sample doctors (the dry run)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from policy_makers import NOW, WORDING, make_request

from policies import (
    CLAIM_REGISTRATIONS,
    CLAIM_SELF_DECLARED_PROFESSION,
    CLAIM_VERIFIED_CLAIMS,
    CLAIMS,
    AccessRequest,
    Decision,
    PolicyError,
    Reason,
    Remedy,
    SubjectFacts,
    decide,
    describe_access,
    dry_run,
    load_profiles,
)
from policies.examples import example_names, load_example

EVERYTHING = make_request(*CLAIMS)

R = Reason


def outcomes(results: list[tuple[str, Decision]]) -> dict[str, tuple[str, ...]]:
    """name -> () when allowed, else the reason ids: the dry-run table in short."""
    return {name: tuple(str(r) for r in d.reasons) for name, d in results}


def test_the_five_seed_patterns_ship() -> None:
    assert set(example_names()) == {
        "scandinavian-doctors-only",
        "uk-gmc",
        "anonymous-us",
        "clinical-forum",
        "honour-system",
    }
    with pytest.raises(KeyError):
        load_example("profiles")  # the sample doctors are not a policy


def test_the_sample_doctors_are_the_ones_the_portal_promises(
    profiles: dict[str, SubjectFacts],
) -> None:
    assert list(profiles) == [
        "danish-gp",
        "dutch-surgeon",
        "uk-doctor",
        "us-physician",
        "nurse",
        "honour-system-user",
        "withdrawn-licence",
        "verified-three-years-ago",
    ]
    gp = profiles["danish-gp"].registrations[0]
    assert (gp.country, gp.register, gp.assurance_level) == ("DK", "dk-sst", "register_match")
    assert NOW - gp.verified_at == timedelta(days=30)
    assert profiles["withdrawn-licence"].registrations[0].status == "withdrawn"
    assert profiles["honour-system-user"].registrations == ()


def test_scandinavian_doctors_only(profiles: dict[str, SubjectFacts]) -> None:
    policy = load_example("scandinavian-doctors-only")
    results = dry_run(policy, profiles, EVERYTHING)
    assert outcomes(results) == {
        "danish-gp": (),
        "dutch-surgeon": (R.JURISDICTION_NOT_ACCEPTED,),
        "uk-doctor": (R.JURISDICTION_NOT_ACCEPTED,),
        "us-physician": (R.JURISDICTION_NOT_ACCEPTED,),
        "nurse": (R.PROFESSION_NOT_ACCEPTED,),
        "honour-system-user": (R.NOT_VERIFIED,),
        "withdrawn-licence": (R.NOT_VERIFIED, R.REGISTRATION_INACTIVE),
        "verified-three-years-ago": (R.VERIFICATION_TOO_OLD,),
    }
    by_name = dict(results)
    assert by_name["dutch-surgeon"].message == (
        "This network accepts physicians verified in Denmark, Sweden or Norway."
    )
    assert by_name["dutch-surgeon"].remedy is None
    stale = by_name["verified-three-years-ago"]
    assert stale.message == (
        "This network accepts physicians verified in Denmark, Sweden or Norway "
        "within the last 365 days."
    )
    assert stale.remedy is Remedy.RENEW_VERIFICATION
    assert by_name["honour-system-user"].remedy is Remedy.START_VERIFICATION
    assert by_name["danish-gp"].claims_to_release == {
        "sub",
        "name",
        "given_name",
        "family_name",
        "email",
        "email_verified",
        "locale",
        CLAIM_VERIFIED_CLAIMS,
    }


def test_the_danish_gp_must_renew_once_the_year_is_up(profiles: dict[str, SubjectFacts]) -> None:
    policy = load_example("scandinavian-doctors-only")
    gp = profiles["danish-gp"]  # verified 30 days before NOW
    assert decide(policy, gp, AccessRequest(now=NOW + timedelta(days=335))).allowed
    late = decide(policy, gp, AccessRequest(now=NOW + timedelta(days=336)))
    assert late.reasons == (Reason.VERIFICATION_TOO_OLD,)


def test_uk_gmc(profiles: dict[str, SubjectFacts]) -> None:
    policy = load_example("uk-gmc")
    results = dry_run(policy, profiles, EVERYTHING, wording=WORDING)
    table = outcomes(results)
    assert table["uk-doctor"] == ()
    assert table["danish-gp"] == (R.REGISTER_NOT_ACCEPTED, R.JURISDICTION_NOT_ACCEPTED)
    assert table["honour-system-user"] == (R.NOT_VERIFIED,)
    assert [name for name, reasons in table.items() if not reasons] == ["uk-doctor"]
    by_name = dict(results)
    assert by_name["us-physician"].message == (
        "This network accepts physicians in the United Kingdom verified against "
        "the UK General Medical Council register."
    )
    assert CLAIM_REGISTRATIONS in by_name["uk-doctor"].claims_to_release


def test_anonymous_us(profiles: dict[str, SubjectFacts]) -> None:
    policy = load_example("anonymous-us")
    results = dry_run(policy, profiles, EVERYTHING)
    table = outcomes(results)
    assert [name for name, reasons in table.items() if not reasons] == ["us-physician"]
    assert table["dutch-surgeon"] == (R.JURISDICTION_NOT_ACCEPTED,)
    by_name = dict(results)
    admitted = by_name["us-physician"]
    # Everything was asked for; only the pairwise sub and the verification go out.
    assert admitted.claims_to_release == {"sub", CLAIM_VERIFIED_CLAIMS}
    assert admitted.subject_type == "pairwise"
    assert by_name["honour-system-user"].message == (
        "This network accepts physicians in the United States verified against "
        "a professional register and an identity document."
    )
    assert by_name["honour-system-user"].remedy is Remedy.START_VERIFICATION


def test_anonymous_us_refuses_a_us_physician_matched_on_the_register_only() -> None:
    from policy_makers import make_registration, make_subject

    subject = make_subject(make_registration(country="US", register="us-nppes"))
    decision = decide(load_example("anonymous-us"), subject, EVERYTHING)
    assert decision.reasons == (Reason.ASSURANCE_TOO_LOW,)
    assert decision.remedy is Remedy.START_VERIFICATION


def test_clinical_forum_clinical_area(profiles: dict[str, SubjectFacts]) -> None:
    policy = load_example("clinical-forum")
    request = make_request(*CLAIMS, area="clinical")
    results = dict(dry_run(policy, profiles, request))
    assert results["danish-gp"].allowed and results["verified-three-years-ago"].allowed
    assert results["nurse"].reasons == (Reason.PROFESSION_NOT_ACCEPTED,)
    assert (
        results["nurse"].message == "The clinical area of this network accepts verified physicians."
    )
    assert results["honour-system-user"].reasons == (Reason.NOT_VERIFIED,)


def test_clinical_forum_open_area_is_the_default(profiles: dict[str, SubjectFacts]) -> None:
    policy = load_example("clinical-forum")
    for request in (EVERYTHING, make_request(*CLAIMS, area="open")):
        results = dict(dry_run(policy, profiles, request))
        assert {n for n, d in results.items() if not d.allowed} == {"withdrawn-licence"}
        honour = results["honour-system-user"]
        assert honour.area == "open"
        # The honour-system user gets the declaration, not a verification, and their
        # unverified email stays home.
        assert CLAIM_SELF_DECLARED_PROFESSION in honour.claims_to_release
        assert CLAIM_VERIFIED_CLAIMS not in honour.claims_to_release
        assert "email" not in honour.claims_to_release
        assert CLAIM_VERIFIED_CLAIMS in results["nurse"].claims_to_release
        withdrawn = results["withdrawn-licence"]
        assert withdrawn.message == (
            "The open area of this network accepts health professionals, "
            "whether self-declared or verified."
        )
        assert withdrawn.remedy is Remedy.DECLARE_PROFESSION
    lounge = decide(policy, profiles["danish-gp"], make_request(area="lounge"))
    assert lounge.reasons == (Reason.UNKNOWN_AREA,)


def test_honour_system(profiles: dict[str, SubjectFacts]) -> None:
    policy = load_example("honour-system")
    results = dict(dry_run(policy, profiles, EVERYTHING))
    assert {n for n, d in results.items() if d.allowed} == {"honour-system-user"}
    assert results["honour-system-user"].claims_to_release == {
        "sub",
        CLAIM_SELF_DECLARED_PROFESSION,
    }
    # A verified doctor who never declared a profession has nothing this client may get.
    gp = results["danish-gp"]
    assert gp.reasons == (Reason.ESSENTIAL_CLAIM_UNAVAILABLE,)
    assert gp.missing_essential == {CLAIM_SELF_DECLARED_PROFESSION}
    assert gp.remedy is Remedy.DECLARE_PROFESSION
    assert gp.message == (
        "This network needs a profession you have stated yourself, "
        "which your account does not have yet."
    )


@pytest.mark.parametrize("name", example_names())
def test_no_example_ever_releases_verified_claims_without_a_registration(
    name: str, profiles: dict[str, SubjectFacts]
) -> None:
    policy = load_example(name)
    for area in (None, *policy.areas):
        for who, decision in dry_run(policy, profiles, make_request(*CLAIMS, area=area)):
            if CLAIM_VERIFIED_CLAIMS in decision.claims_to_release:
                assert decision.registration is not None, who


@pytest.mark.parametrize(
    ("name", "area", "sentence"),
    [
        (
            "scandinavian-doctors-only",
            None,
            "This network accepts physicians verified in Denmark, Sweden or Norway "
            "within the last 365 days.",
        ),
        (
            "clinical-forum",
            "clinical",
            "The clinical area of this network accepts verified physicians.",
        ),
        (
            "honour-system",
            None,
            "This network accepts health professionals, whether self-declared or verified.",
        ),
        ("clinical-forum", "lounge", 'This network has no area called "lounge".'),
    ],
)
def test_the_portal_can_preview_each_rule(name: str, area: str | None, sentence: str) -> None:
    assert describe_access(load_example(name), area, wording=WORDING) == sentence


def test_bad_sample_profiles_are_refused_with_a_path() -> None:
    text = """
danish-gp:
  registrations:
    - register: dk-sst
      country: DK
      profession: physician
      assurance_level: self_declared
      verified_days_ago: 30
"""
    with pytest.raises(PolicyError) as caught:
        load_profiles(text, now=NOW)
    assert caught.value.path == "/danish-gp/registrations/0/assurance_level"
    with pytest.raises(PolicyError) as caught:
        load_profiles({"nurse": {"registrations": [], "shoe_size": 42}}, now=NOW)
    assert caught.value.path == "/nurse/shoe_size"
