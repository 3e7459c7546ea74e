"""The BIG-register's live webservice (ListHcpApprox4) as CIBG runs it, here a local SOAP
server the hub reaches through CURBSIDE_BIG_ENDPOINT: when it is down and Curbside has no
copy of the registration, the check is "unavailable" (retried later), never "no match"."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from hub.persistence.models.registers import RegisterRecord
from hub.settings import Settings, SettingsError
from hub.verification import nl_big, records, registry
from hub.verification.base import RegistrationClaim, ResultStatus
from tests.verification import published as pub
from tests.verification_flows.registers import FakeRegisters, Person, big_element, big_mirror, big_number


@pytest.fixture(autouse=True)
def _clean_fake(fake: FakeRegisters) -> Iterator[None]:
    yield
    fake.reset()
    fake.big.clear()


def claim(number: str, given: str, family: str) -> RegistrationClaim:
    return RegistrationClaim("NL", number, "physician", given, family)


def big(db, fake):  # the hub's BIG verifier, configured through the settings
    return pub.live_verifiers(db, fake)["nl-big"]


@pytest.fixture
def mirror_with_someone_else(db, tmp_path) -> Person:
    other = Person("Pieter", "Vries", big_number(), prefix="de", initials="P.")
    nl_big.import_full(db, str(big_mirror(tmp_path / "big.xml", [other])))
    return other


@pytest.mark.parametrize("outage", ["down", "faults", "stalled"])
def test_an_outage_without_a_copy_is_unavailable_never_no_match(db, fake, mirror_with_someone_else, outage):
    getattr(fake, outage).add("big")
    number = big_number()
    start = time.monotonic()
    r = big(db, fake).check(claim(number, "Sanne", "Visser"))
    assert time.monotonic() - start < pub.FAST.deadline + 1
    assert r.status is ResultStatus.UNAVAILABLE, r.reason
    assert "no copy of this registration" in r.reason and r.entry is None and r.evidence is None


def test_an_open_breaker_without_a_copy_is_unavailable(db, fake, mirror_with_someone_else):
    fake.down.add("big")
    verifier = big(db, fake)
    for _ in range(verifier.breaker.failure_threshold):
        verifier.check(claim(big_number(), "Sanne", "Visser"))
    assert verifier.breaker.state == "open"
    r = verifier.check(claim(big_number(), "Sanne", "Visser"))
    assert r.status is ResultStatus.UNAVAILABLE and "circuit breaker open" in r.reason


def test_an_outage_with_a_copy_answers_from_it(db, fake, mirror_with_someone_else):
    fake.down.add("big")
    p = mirror_with_someone_else
    r = big(db, fake).check(claim(p.number, "Pieter", "de Vries"))
    assert r.status is ResultStatus.MATCH and r.evidence.method == "mirror"


def test_a_live_answer_that_the_number_is_unknown_is_no_match(db, fake, mirror_with_someone_else):
    r = big(db, fake).check(claim(big_number(), "Sanne", "Visser"))
    assert r.status is ResultStatus.NO_MATCH


def test_unavailable_never_replaces_a_verification(db, fake):
    p = Person("Bram", "Berg", big_number(), prefix="van den", initials="B.")
    fake.big[p.number] = big_element(p)
    verifiers = pub.live_verifiers(db, fake)
    assert records.verify(db, verifiers, "doc1", claim(p.number, "Bram", "van den Berg")).status is ResultStatus.MATCH
    fake.down.add("big")
    fake.big.clear()
    with db.session() as s:  # and the mirror forgot it: the outage still proves nothing
        s.execute(delete(RegisterRecord))
    r = records.verify(db, verifiers, "doc1", claim(p.number, "Bram", "van den Berg"))
    assert r.status is ResultStatus.UNAVAILABLE
    with db.session() as s:
        doctor = records.load(s, "doc1")
    assert len(doctor.registrations) == 1


@pytest.mark.parametrize(
    ("given", "family"),
    [("dr. Lotte", "de Jong"), ("Lotte", "dr. de Jong"), ("Prof. dr. L.", "de Jong"), ("drs. Lotte", "de Jong")],
)
def test_dutch_titles_do_not_send_a_match_to_review(db, fake, given, family):
    p = Person("Lotte", "Jong", big_number(), prefix="de", initials="L.")
    fake.big[p.number] = big_element(p)
    r = big(db, fake).check(claim(p.number, given, family))
    assert r.status is ResultStatus.MATCH, r.reason
    assert r.verified_family_name == "de Jong"


def test_the_endpoint_is_a_setting_for_cibgs_test_environment():
    env = {"CURBSIDE_ISSUER": "https://id.curbside.example"}
    test_env = "https://big-test.example.nl/zksrv/soap/4"
    s = Settings.from_env({**env, "CURBSIDE_BIG_ENDPOINT": test_env})
    assert registry.make_verifiers(None, settings=s)["nl-big"].endpoint == test_env
    assert registry.make_verifiers(None, settings=Settings.from_env(env))["nl-big"].endpoint == nl_big.ENDPOINT
    with pytest.raises(SettingsError, match="CURBSIDE_BIG_ENDPOINT must be an https URL"):
        Settings.from_env({**env, "CURBSIDE_BIG_ENDPOINT": "http://big-test.example.nl/"})
