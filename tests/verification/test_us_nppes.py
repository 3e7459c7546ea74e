"""NPPES: the NPI Registry API (a local server reached through CURBSIDE_NPPES_API_URL,
answering the API's own answer documents from fixtures/) and the bulk files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.verification import us_nppes
from hub.verification.base import RegistrationClaim, ResultStatus
from tests.verification import published as pub
from tests.verification_flows.registers import FakeRegisters

FIXTURES = Path(__file__).parent / "fixtures"

A, B, C, E = "1234567893", "1987654328", "1456789019", "1876543210"


@pytest.fixture(autouse=True)
def _clean_fake(fake: FakeRegisters) -> Iterator[None]:
    yield
    fake.reset()


def answer(fake: FakeRegisters, name: str) -> None:
    fake.script["nppes"] = (200, (FIXTURES / name).read_bytes())


def claim(number, given, family, jurisdiction=None):
    return RegistrationClaim("US", number, "physician", given, family, jurisdiction=jurisdiction)


def verifier(db, fake):
    return pub.live_verifiers(db, fake)["us-nppes"]


def test_api_match_is_graded_self_reported(db, fake):
    answer(fake, "nppes_api_match.json")
    r = verifier(db, fake).check(claim(A, "María", "García López", jurisdiction="MA"))
    assert r.status is ResultStatus.MATCH, r.reason
    assert r.evidence.check_id.endswith("licence-self-reported")
    assert r.entry.specialties[0] == "Internal Medicine"
    assert fake.received[0][3] == {"version": "2.1", "number": A}


def test_api_state_without_licence_needs_review(db, fake):
    answer(fake, "nppes_api_match.json")
    r = verifier(db, fake).check(claim(A, "Maria", "Garcia Lopez", jurisdiction="CA"))
    assert r.status is ResultStatus.NEEDS_REVIEW


def test_api_empty_and_errors(db, fake, fixture_path):
    answer(fake, "nppes_api_empty.json")
    assert verifier(db, fake).check(claim(A, "Maria", "Garcia")).status is ResultStatus.NO_MATCH
    us_nppes.import_full(db, fixture_path("nppes_full.csv"))
    answer(fake, "nppes_api_error.json")
    r = verifier(db, fake).check(claim(A, "Maria Elena", "Garcia Lopez"))
    assert r.status is ResultStatus.MATCH and r.evidence.method == "mirror"


def test_invalid_npi_check_digit(db, fake):
    assert verifier(db, fake).check(claim("1234567890", "X", "Y")).status is ResultStatus.NO_MATCH
    assert fake.received == []


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
