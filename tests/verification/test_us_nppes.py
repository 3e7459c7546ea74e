from __future__ import annotations

import json
from pathlib import Path

import responses

from hub.verification import us_nppes
from hub.verification.base import RegistrationClaim, ResultStatus

FIXTURES = Path(__file__).parent / "fixtures"

A, B, C, E = "1234567893", "1987654328", "1456789019", "1876543210"


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def claim(number, given, family, jurisdiction=None):
    return RegistrationClaim("US", number, "physician", given, family, jurisdiction=jurisdiction)


def verifier(db):
    return us_nppes.NppesVerifier(db, sleep=lambda s: None)


@responses.activate
def test_api_match_is_graded_self_reported(db):
    responses.get(us_nppes.API_URL, json=payload("nppes_api_match.json"))
    r = verifier(db).check(claim(A, "María", "García López", jurisdiction="MA"))
    assert r.status is ResultStatus.MATCH, r.reason
    assert r.evidence.check_id.endswith("licence-self-reported")
    assert r.entry.specialties[0] == "Internal Medicine"
    assert responses.calls[0].request.params == {"version": "2.1", "number": A}


@responses.activate
def test_api_state_without_licence_needs_review(db):
    responses.get(us_nppes.API_URL, json=payload("nppes_api_match.json"))
    r = verifier(db).check(claim(A, "Maria", "Garcia Lopez", jurisdiction="CA"))
    assert r.status is ResultStatus.NEEDS_REVIEW


@responses.activate
def test_api_empty_and_errors(db, fixture_path):
    responses.get(us_nppes.API_URL, json=payload("nppes_api_empty.json"))
    assert verifier(db).check(claim(A, "Maria", "Garcia")).status is ResultStatus.NO_MATCH
    us_nppes.import_full(db, fixture_path("nppes_full.csv"))
    responses.replace(responses.GET, us_nppes.API_URL, json=payload("nppes_api_error.json"))
    r = verifier(db).check(claim(A, "Maria Elena", "Garcia Lopez"))
    assert r.status is ResultStatus.MATCH and r.evidence.method == "mirror"


def test_invalid_npi_check_digit(db):
    with responses.RequestsMock() as rsps:
        assert verifier(db).check(claim("1234567890", "X", "Y")).status is ResultStatus.NO_MATCH
        assert not rsps.calls


def test_bulk_import_keeps_physicians_only(db, fixture_path):
    report = us_nppes.import_full(db, fixture_path("nppes_full.csv"))
    assert report.rows_changed == 3  # nurse and organisation skipped
    v = us_nppes.NppesVerifier(db)
    assert v.check_mirror(claim(E, "Robert", "Smith"), E).status is ResultStatus.INACTIVE
    assert v.check_mirror(claim(C, "Linh", "Nguyen"), C).status is ResultStatus.NO_MATCH
    assert v.check_mirror(claim(B, "James", "O'Connor"), B).status is ResultStatus.MATCH


def test_weekly_stub_and_deactivation_report(db, fixture_path):
    us_nppes.import_full(db, fixture_path("nppes_full.csv"))
    weekly = us_nppes.import_full(db, fixture_path("nppes_weekly_deactivated.csv"))
    assert weekly.became_inactive == [B]
    report = us_nppes.apply_deactivations(db, fixture_path("nppes_deactivations.csv"))
    assert report.became_inactive == [A]
    r = us_nppes.NppesVerifier(db).check_mirror(claim(A, "Maria", "Garcia Lopez"), A)
    assert r.status is ResultStatus.INACTIVE and "2024-05-01" in r.reason
