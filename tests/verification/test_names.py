from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.verification.names import Outcome, fold, match_names, strip_titles, tokens

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


# Honorifics and generational suffixes are no names: they never send a match to review.
@pytest.mark.parametrize(
    ("given_name", "family", "reg_given", "reg_family", "reg_suffix", "expected"),
    [
        ("Dr. John", "Smith", "JOHN", "SMITH", "", M),
        ("Prof. Dr. John", "Smith", "JOHN", "SMITH", "", M),
        ("John", "Smith Jr.", "JOHN", "SMITH", "JR.", M),  # NPPES's suffix field
        ("John", "Smith Jr.", "JOHN", "SMITH", "", M),
        ("John", "Smith", "JOHN", "SMITH", "III", M),
        ("John", "Smith III", "JOHN", "SMITH", "III", M),
        ("John", "Smith, Jr", "JOHN", "SMITH JR", "", M),  # suffix inside the registered surname
        ("John", "Smith Jnr", "JOHN", "SMITH", "JR.", M),
        ("dr. J.", "de Vries", "J.", "de Vries", "", M),
        ("drs. Anna", "Bakker", "A.", "Bakker", "", M),
        ("Prof.dr. Anna", "Bakker", "Anna", "Bakker", "", M),
        ("John", "Smith Sr.", "JOHN", "SMITH", "JR.", P),  # father and son
        ("John", "Smith II", "JOHN", "SMITH", "III", P),
        ("Dr. John", "Jones", "JOHN", "SMITH", "", N),  # a title does not make a name match
    ],
)
def test_honorifics_and_suffixes(given_name, family, reg_given, reg_family, reg_suffix, expected):
    got = match_names(given_name, family, register_given=reg_given, register_family=reg_family,
                      register_suffix=reg_suffix)
    assert got.outcome is expected, got.reason


def test_the_released_names_carry_no_titles():
    got = match_names("Dr. John", "Smith Jr.", register_given="JOHN", register_family="SMITH", register_suffix="JR.")
    assert (got.given_name, got.family_name, got.given_confirmed, got.family_exact) == ("John", "Smith", True, True)


def test_a_name_that_is_only_a_title_is_kept():
    assert strip_titles("Sir") == ("Sir", "")
    assert strip_titles("Le Jr.") == ("Le", "jr")


@settings(max_examples=200, deadline=None)
@given(names_list, name, st.sampled_from(["Dr.", "dr.", "Prof. dr.", "drs.", "Mr", "Mrs."]),
       st.sampled_from(["Jr.", "Sr.", "II", "III", "IV", "jnr"]))
def test_a_title_or_suffix_never_changes_a_match(givens, family, title, suffix):
    register = {"register_given": " ".join(givens), "register_family": family}
    assert match_names(" ".join(givens), family, **register).outcome is M
    assert match_names(f"{title} {' '.join(givens)}", f"{family} {suffix}", **register).outcome is M
    assert match_names(" ".join(givens), f"{family} {suffix}", register_suffix=suffix, **register).outcome is M
