from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
import responses

from hub.verification import nl_big
from hub.verification.base import RegisterFileError, RegistrationClaim, ResultStatus
from hub.verification.resilience import CircuitBreaker, HttpPolicy

FIXTURES = Path(__file__).parent / "fixtures"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def claim(number: str, given: str, family: str, profession: str = "physician"):
    return RegistrationClaim("NL", number, profession, given, family)


def verifier(db, **kw) -> nl_big.BigVerifier:
    return nl_big.BigVerifier(db, sleep=lambda s: None, **kw)


@responses.activate
def test_live_match_with_initials_and_tussenvoegsel(db):
    responses.post(nl_big.ENDPOINT, body=body("big_live_match.xml"))
    r = verifier(db).check(claim("190 123 456 01", "Jan Maarten", "van der Berg"))
    assert r.status is ResultStatus.MATCH, r.reason
    assert r.evidence.method == "live" and r.evidence.country_code == "NLD"
    assert r.entry.specialties == ("huisartsgeneeskunde",)
    # BIG only holds initials: the given name is not confirmed by the register.
    assert r.verified_given_name is None and r.verified_family_name == "van der Berg"
    sent = responses.calls[0].request
    assert sent.headers["SOAPAction"] == nl_big.SOAP_ACTION
    assert b"<ext:RegistrationNumber>19012345601<" in sent.body


@responses.activate
def test_live_answer_is_cached_in_the_mirror(db):
    responses.post(nl_big.ENDPOINT, body=body("big_live_match.xml"))
    v = verifier(db)
    v.check(claim("19012345601", "J.", "Berg"))
    r = v.check_mirror(claim("19012345601", "J.", "Berg"), "19012345601")
    assert r.status is ResultStatus.MATCH and r.evidence.method == "mirror"


@responses.activate
def test_measure_makes_restricted(db):
    responses.post(nl_big.ENDPOINT, body=body("big_live_restricted.xml"))
    r = verifier(db).check(claim("39077770101", "Eva", "van Dijk"))
    assert r.status is ResultStatus.RESTRICTED
    assert "Voorwaardelijke schorsing" in r.reason


@responses.activate
def test_unknown_number_and_wrong_name(db):
    responses.post(nl_big.ENDPOINT, body=body("big_live_empty.xml"))
    assert verifier(db).check(claim("19999999901", "A", "B")).status is ResultStatus.NO_MATCH
    responses.replace(responses.POST, nl_big.ENDPOINT, body=body("big_live_match.xml"))
    r = verifier(db).check(claim("19012345601", "Piet", "Berg"))
    assert r.status is ResultStatus.NAME_MISMATCH and r.entry is None


def test_bad_number_makes_no_call(db):
    with responses.RequestsMock() as rsps:
        r = verifier(db).check(claim("12345", "J", "Berg"))
        assert r.status is ResultStatus.NO_MATCH and len(rsps.calls) == 0


@responses.activate
def test_timeout_falls_back_to_mirror(db, fixture_path):
    nl_big.import_full(db, fixture_path("big_mirror.xml"))
    responses.post(nl_big.ENDPOINT, body=requests.exceptions.ReadTimeout("slow"))
    start = time.monotonic()
    r = verifier(db).check(claim("19012345601", "J.M.", "van der Berg"))
    assert time.monotonic() - start < 1
    assert r.status is ResultStatus.MATCH and r.evidence.method == "mirror"
    assert "register unavailable" in r.reason
    assert len(responses.calls) == 3  # first attempt + 2 retries


@responses.activate
def test_timeout_without_mirror_is_unavailable(db):
    responses.post(nl_big.ENDPOINT, body=requests.exceptions.ConnectTimeout("down"))
    r = verifier(db).check(claim("19012345601", "J.M.", "Berg"))
    assert r.status is ResultStatus.UNAVAILABLE


@responses.activate
def test_soap_fault_falls_back(db, fixture_path):
    nl_big.import_full(db, fixture_path("big_mirror.xml"))
    responses.post(nl_big.ENDPOINT, body=body("big_fault.xml"), status=500)
    r = verifier(db).check(claim("19012345601", "J.M.", "Berg"))
    assert r.status is ResultStatus.MATCH and r.evidence.method == "mirror"


@responses.activate
def test_breaker_opens_and_stops_calling(db, fixture_path):
    nl_big.import_full(db, fixture_path("big_mirror.xml"))
    responses.post(nl_big.ENDPOINT, status=503)
    v = verifier(
        db,
        breaker=CircuitBreaker(failure_threshold=2, reset_after=60),
        policy=HttpPolicy(retries=0),
    )
    for _ in range(2):
        assert v.check(claim("19012345601", "J", "Berg")).evidence.method == "mirror"
    assert v.breaker.state == "open"
    calls = len(responses.calls)
    r = v.check(claim("19012345601", "J", "Berg"))
    assert len(responses.calls) == calls
    assert r.status is ResultStatus.MATCH and "circuit breaker open" in r.reason


def test_mirror_import(db, fixture_path):
    report = nl_big.import_full(db, fixture_path("big_mirror.xml"))
    assert report.rows_changed == 5
    v = verifier(db, breaker=CircuitBreaker(failure_threshold=1, reset_after=3600))
    v.breaker.record_failure()  # force mirror answers
    assert v.check(claim("29055500101", "Anna", "Jansen-Bakker")).status is ResultStatus.MATCH
    assert v.check(claim("29055500101", "A.C.", "Bakker")).status is ResultStatus.MATCH
    assert v.check(claim("29055500116", "A", "Bakker")).status is ResultStatus.NO_MATCH
    assert v.check(claim("49012300101", "P", "de Visser")).status is ResultStatus.INACTIVE
    assert v.check(claim("59012300130", "L", "Smit")).status is ResultStatus.NO_MATCH


def test_truncated_xml_keeps_committed_elements(db, fixture_path):
    with pytest.raises(RegisterFileError) as err:
        nl_big.import_full(db, fixture_path("big_mirror_truncated.xml"), batch_size=1)
    assert err.value.line >= 52
    from hub.verification import mirror

    with db.session() as s:
        assert mirror.lookup(s, "nl-big", "19012345601") is not None


def test_doctype_is_refused(db, tmp_path):
    evil = tmp_path / "evil.xml"
    evil.write_text('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]>\n<x>&a;</x>\n')
    with pytest.raises(RegisterFileError) as err:
        nl_big.import_full(db, str(evil))
    assert "DOCTYPE" in str(err.value)
