from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.verification.names import Outcome, fold, match_names, tokens

M, P, N = Outcome.MATCH, Outcome.PARTIAL, Outcome.NO_MATCH


@pytest.mark.parametrize(
    ("given_name", "family", "reg_given", "reg_family", "prefix", "expected"),
    [
        ("Jan", "van der Berg", "J.M.", "Berg", "van der", M),  # initials + tussenvoegsel
        ("J.M.", "Van Der Berg", "Jan Maarten", "Berg", "van der", M),
        ("Maarten Jan", "Vanderberg", "Jan Maarten", "Berg", "van der", M),  # order, compact
        ("Jan", "Berg", "Jan", "Berg", "van der", M),  # prefix left out
        ("Jan", "de Berg", "Jan", "Berg", "van der", P),  # different prefix
        ("Søren", "Ærø", "SOREN", "AERO", "", M),
        ("Søren", "Ærø", "Soeren", "Aeroe", "", M),
        ("Jürgen", "Straße", "Juergen", "Strasse", "", M),
        ("Anna", "Smith-Jones", "Anna", "Smith Jones", "", M),  # hyphen vs space
        ("Anna", "Smith", "Anna", "Smith-Jones", "", P),  # part of a double surname
        ("Maria", "García", "MARIA ELENA", "GARCIA LOPEZ", "", P),
        ("Siobhán", "O'Brien", "Siobhan", "OBrien", "", M),
        ("Jan", "'t Hooft", "Jan", "Hooft", "'t", M),
        ("Johannes", "Jansen", "Johanes", "Jansen", "", P),  # one-letter typo
        ("Jan", "Janssen", "Jan", "Jansen", "", P),
        ("Jan Peter", "Jansen", "Jan", "Jansen", "", P),  # extra given name
        ("Bill", "Smith", "William", "Smith", "", N),
        ("Wil", "Smith", "William", "Smith", "", P),  # initial matches only
        ("Anna", "Smith", "Anna", "Brown", "", N),
        ("", "Smith", "Anna", "Smith", "", P),
    ],
)
def test_examples(given_name, family, reg_given, reg_family, prefix, expected):
    got = match_names(
        given_name,
        family,
        register_given=reg_given,
        register_family=reg_family,
        register_prefix=prefix,
    )
    assert got.outcome is expected, got.reason


def test_fold_and_tokens():
    assert fold("Søren Æbelø-Straß") == "soren aebelo-strass"
    assert tokens("J.M. d'Ancona-van Dijk") == ["j", "m", "dancona", "van", "dijk"]


def test_given_confirmed_only_with_full_names():
    assert match_names("Jan", "Berg", register_given="Jan", register_family="Berg").given_confirmed
    assert not match_names("J.", "Berg", register_given="Jan", register_family="Berg").given_confirmed
    assert not match_names("Jan", "Berg", register_given="J.", register_family="Berg").given_confirmed


name = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzéøæüß"), min_size=2, max_size=10)
names_list = st.lists(name, min_size=1, max_size=4)
particles = st.sampled_from(["", "van", "van der", "de", "ter", "von"])


@settings(max_examples=200, deadline=None)
@given(names_list, name, particles)
def test_a_name_matches_itself_in_any_case(givens, family, prefix):
    full_family = f"{prefix} {family}".strip()
    got = match_names(
        " ".join(givens).upper(),
        full_family.title(),
        register_given=" ".join(givens),
        register_family=family,
        register_prefix=prefix,
    )
    assert got.outcome is M


@settings(max_examples=200, deadline=None)
@given(names_list, name)
def test_initials_and_any_order_match(givens, family):
    initials = ".".join(fold(g)[0] for g in givens) + "."
    assert match_names(initials, family, register_given=" ".join(givens), register_family=family).outcome is M
    assert (
        match_names(
            " ".join(reversed(givens)),
            family,
            register_given=" ".join(givens),
            register_family=family,
        ).outcome
        is M
    )


@settings(max_examples=200, deadline=None)
@given(names_list, name, name)
def test_different_family_never_matches(givens, family, other):
    if tokens(family) == tokens(other):
        return
    got = match_names(" ".join(givens), other, register_given=" ".join(givens), register_family=family)
    assert got.outcome is not M
