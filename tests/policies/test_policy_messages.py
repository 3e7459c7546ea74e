"""The refusal sentence: plain words, country names, only the clauses that matter."""

from __future__ import annotations

import pytest
from policy_makers import WORDING, make_policy, make_registration, make_request, make_subject

from policies import ACR_MFA, ACR_PWD, Wording, decide, describe_access
from policies.messages import COUNTRY_NAMES, country_name, join_words

EU_EEA = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"


@pytest.mark.parametrize(
    "code", [*EU_EEA.split(), "IS", "LI", "NO", "CH", "GB", "US", "CA", "AU", "NZ"]
)
def test_the_country_table_covers_the_eu_eea_and_the_english_speaking_registers(code: str) -> None:
    assert code in COUNTRY_NAMES
    assert COUNTRY_NAMES[code] != code


def test_an_unlisted_country_is_shown_by_its_code() -> None:
    assert country_name("JP") == "JP"


@pytest.mark.parametrize(
    ("words", "joined"),
    [
        ([], ""),
        (["A"], "A"),
        (["A", "B"], "A or B"),
        (["A", "B", "C"], "A, B or C"),
        (["A", "A"], "A"),
    ],
)
def test_join_words(words: list[str], joined: str) -> None:
    assert join_words(words) == joined


def rule_sentence(access: dict[str, object], area: str | None = None) -> str:
    if area is None:
        return describe_access(make_policy(access), wording=WORDING)
    return describe_access(make_policy(areas={area: access}, default_area=area), area,
                           wording=WORDING)


@pytest.mark.parametrize(
    ("access", "sentence"),
    [
        (
            {"professions": ["physician", "dentist"], "min_assurance_level": "register_match"},
            "This network accepts verified physicians or dentists.",
        ),
        (
            {"min_assurance_level": "register_match", "jurisdictions": ["NL", "BE"]},
            "This network accepts health professionals verified in the Netherlands or Belgium.",
        ),
        (
            {
                "professions": ["physician"],
                "min_assurance_level": "register_and_id",
                "registers": ["nl-big"],
            },
            "This network accepts physicians verified against the Dutch BIG register "
            "and an identity document.",
        ),
        (
            {"professions": ["physician"], "min_assurance_level": "professional_eid"},
            "This network accepts physicians verified with a professional eID.",
        ),
        (
            {
                "professions": ["physician"],
                "min_assurance_level": "register_match",
                "registers": ["xx-new"],
            },
            "This network accepts physicians verified against the xx-new register.",
        ),
        (
            {
                "professions": ["physician"],
                "min_assurance_level": "register_match",
                "jurisdictions": ["JP"],
                "specialties": ["general_practice", "psychiatry"],
                "max_verification_age": "P1D",
                "min_acr": ACR_MFA,
            },
            "This network accepts physicians verified in JP within the last day, with a "
            "specialty in general practice or psychiatry, and asks them to sign in with a "
            "second factor.",
        ),
    ],
)
def test_describe_access_writes_the_rule_in_one_sentence(
    access: dict[str, object], sentence: str
) -> None:
    assert rule_sentence(access) == sentence


def test_the_hubs_wording_names_a_register_and_its_country() -> None:
    # A register policies have never heard of: the hub hands in its words.
    wording = Wording(register_names={"zz-reg": "the Zedland Medical Roll"},
                      country_names={"ZZ": "Zedland"})
    policy = make_policy({"professions": ["physician"], "min_assurance_level": "register_match",
                          "registers": ["zz-reg"], "jurisdictions": ["ZZ"]})
    assert describe_access(policy, wording=wording) == (
        "This network accepts physicians in Zedland verified against the Zedland Medical Roll."
    )
    refused = decide(policy, make_subject(make_registration()), make_request(), wording=wording)
    assert refused.message is not None and "the Zedland Medical Roll" in refused.message
    assert "Zedland." not in describe_access(policy)  # without the hub's words: the codes


def test_a_named_area_is_named_in_the_sentence() -> None:
    sentence = rule_sentence({"min_assurance_level": "self_declared"}, area="open")
    assert sentence == (
        "The open area of this network accepts health professionals, "
        "whether self-declared or verified."
    )


def test_a_refusal_mentions_age_and_second_factor_only_when_they_are_the_problem() -> None:
    policy = make_policy(
        {
            "professions": ["physician"],
            "min_assurance_level": "register_match",
            "jurisdictions": ["DK"],
            "max_verification_age": "P90D",
            "min_acr": ACR_MFA,
        }
    )
    wrong_country = make_subject(make_registration(country="SE"))
    stale = make_subject(make_registration(days_ago=100))
    weak_session = make_subject(make_registration(), acr=ACR_PWD)
    messages = {
        "country": decide(policy, wrong_country, make_request()).message,
        "stale": decide(policy, stale, make_request()).message,
        "session": decide(policy, weak_session, make_request()).message,
    }
    assert messages == {
        "country": "This network accepts physicians verified in Denmark.",
        "stale": "This network accepts physicians verified in Denmark within the last 90 days.",
        "session": "This network accepts physicians verified in Denmark and asks them to sign "
        "in with a second factor.",
    }


def test_refusal_messages_use_country_names_not_codes() -> None:
    policy = make_policy(
        {"min_assurance_level": "register_match", "jurisdictions": ["DK", "SE", "NO", "GB"]}
    )
    message = decide(policy, make_subject(make_registration(country="US")), make_request()).message
    assert message == (
        "This network accepts health professionals verified in Denmark, Sweden, Norway "
        "or the United Kingdom."
    )
