"""BIG-register: the live ListHcpApprox4 webservice (a local SOAP server reached through
CURBSIDE_BIG_ENDPOINT, answering CIBG's own answer documents from fixtures/) and the
mirror file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.breaker import CircuitBreaker
from connectors.resilience import RetryPolicy
from hub.verification import nl_big
from hub.verification.base import RegisterFileError, RegistrationClaim, ResultStatus
from tests.verification import published as pub
from tests.verification_flows.registers import FakeRegisters

FIXTURES = Path(__file__).parent / "fixtures"
# Short timeouts so that a stalled register costs the test little; the retries as in production.
QUICK = RetryPolicy(connect_timeout=0.3, read_timeout=0.3, retries=2, backoff=0.01, deadline=2.0)


@pytest.fixture(autouse=True)
def _clean_fake(fake: FakeRegisters) -> Iterator[None]:
    yield
    fake.reset()


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def answer(fake: FakeRegisters, name: str, status: int = 200) -> None:
    fake.script["big"] = (status, body(name))


def claim(number: str, given: str, family: str, profession: str = "physician"):
    return RegistrationClaim("NL", number, profession, given, family)


def verifier(db, fake=None, **kw) -> nl_big.BigVerifier:
    if fake is None:  # no live register at all: an address nothing listens on
        return nl_big.BigVerifier(db, endpoint="http://127.0.0.1:9/big", sleep=lambda s: None, **kw)
    return pub.live_verifiers(db, fake, policy=kw.pop("policy", QUICK))["nl-big"]


def test_live_match_with_initials_and_tussenvoegsel(db, fake):
    answer(fake, "big_live_match.xml")
    r = verifier(db, fake).check(claim("190 123 456 01", "Jan Maarten", "van der Berg"))
    assert r.status is ResultStatus.MATCH, r.reason
    assert r.evidence.method == "live" and r.evidence.country_code == "NLD"
    assert r.entry.specialties == ("huisartsgeneeskunde",)
    # BIG only holds initials: the given name is not confirmed by the register.
    assert r.verified_given_name is None and r.verified_family_name == "van der Berg"
    _, headers, sent, _ = fake.received[0]
    assert headers["Soapaction"] == nl_big.SOAP_ACTION
    assert b"<ext:RegistrationNumber>19012345601<" in sent


def test_live_answer_is_cached_in_the_mirror(db, fake):
    answer(fake, "big_live_match.xml")
    v = verifier(db, fake)
    v.check(claim("19012345601", "J.", "Berg"))
    r = v.check_mirror(claim("19012345601", "J.", "Berg"), "19012345601")
    assert r.status is ResultStatus.MATCH and r.evidence.method == "mirror"


def test_measure_makes_restricted(db, fake):
    answer(fake, "big_live_restricted.xml")
    r = verifier(db, fake).check(claim("39077770101", "Eva", "van Dijk"))
    assert r.status is ResultStatus.RESTRICTED
    assert "Voorwaardelijke schorsing" in r.reason


def test_unknown_number_and_wrong_name(db, fake):
    answer(fake, "big_live_empty.xml")
    assert verifier(db, fake).check(claim("19999999901", "A", "B")).status is ResultStatus.NO_MATCH
    answer(fake, "big_live_match.xml")
    r = verifier(db, fake).check(claim("19012345601", "Piet", "Berg"))
    assert r.status is ResultStatus.NAME_MISMATCH and r.entry is None


def test_bad_number_makes_no_call(db, fake):
    r = verifier(db, fake).check(claim("12345", "J", "Berg"))
    assert r.status is ResultStatus.NO_MATCH and fake.received == []


def test_timeout_falls_back_to_mirror(db, fake, fixture_path):
    nl_big.import_full(db, fixture_path("big_mirror.xml"))
    fake.stalled.add("big")
    start = time.monotonic()
    r = verifier(db, fake).check(claim("19012345601", "J.M.", "van der Berg"))
    assert time.monotonic() - start < QUICK.deadline + 0.5
    assert r.status is ResultStatus.MATCH and r.evidence.method == "mirror"
    assert "register unavailable" in r.reason
    assert len(fake.received) == 3  # first attempt + 2 retries


def test_no_register_and_no_mirror_is_unavailable(db):
    r = verifier(db, policy=QUICK).check(claim("19012345601", "J.M.", "Berg"))
    assert r.status is ResultStatus.UNAVAILABLE


def test_soap_fault_falls_back(db, fake, fixture_path):
    nl_big.import_full(db, fixture_path("big_mirror.xml"))
    answer(fake, "big_fault.xml", status=500)
    r = verifier(db, fake).check(claim("19012345601", "J.M.", "Berg"))
    assert r.status is ResultStatus.MATCH and r.evidence.method == "mirror"


def test_breaker_opens_and_stops_calling(db, fake, fixture_path):
    nl_big.import_full(db, fixture_path("big_mirror.xml"))
    fake.down.add("big")
    v = verifier(db, fake)
    for _ in range(v.breaker.failure_threshold):
        assert v.check(claim("19012345601", "J", "Berg")).evidence.method == "mirror"
    assert v.breaker.state == "open"
    calls = len(fake.received)
    r = v.check(claim("19012345601", "J", "Berg"))
    assert len(fake.received) == calls
    assert r.status is ResultStatus.MATCH and "circuit breaker open" in r.reason


def test_mirror_import(db, fixture_path):
    report = nl_big.import_full(db, fixture_path("big_mirror.xml"))
    assert report.rows_changed == 5
    v = verifier(db, breaker=CircuitBreaker(failure_threshold=1, reset_timeout=3600))
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
