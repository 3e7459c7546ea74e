"""A doctor verifies on the account page, then signs in to a partner network that asks for
verified_claims: the right level and evidence arrive in the ID token and at userinfo, are
valid against the official OIDC4IDA schema, respect max_age, and stop when the register
withdraws the licence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import event, select, update

from hub.persistence.db import utcnow
from hub.persistence.models.audit import AuditRecord
from hub.persistence.models.registers import DoctorRegistration
from hub.verification.claims import DISCOVERY_METADATA
from hub.verification.schemas import validate_verified_claims
from hub.verification.vocabulary import LICENCE_MEMBER, REGISTRATIONS_CLAIM, SELF_DECLARED_CLAIM
from tests.flows.conftest import RelyingParty, RunningHub, callback_params
from tests.verification_flows import registers as reg
from tests.verification_flows.helpers import (
    PHYSICIAN_SCOPE,
    VC,
    DoctorAtHub,
    claims_param,
    cli,
    contains,
    new_doctor,
    sign_in,
    userinfo,
    vc_request,
)

CONSENT_LABEL = "That you are a licensed physician, and the register that confirmed it"


@dataclass(frozen=True)
class Case:
    register: str
    country: str
    given: str
    family: str
    number: str
    source: dict[str, str]
    released_names: dict[str, str]


def _case(register: str, hub: RunningHub, fake: reg.FakeRegisters, tmp: Path) -> Case:
    """Put one physician in the register (live fake or mirror file, as that register works)."""
    if register == "nl-big":  # live SOAP lookup
        p = reg.Person("Jan Maarten", "Berg", reg.big_number(), prefix="van der", initials="J.M.")
        fake.big[p.number] = reg.big_element(p)
        # The BIG-register holds initials only: the given name is not released as verified.
        return Case(register, "NL", "Jan Maarten", "van der Berg", p.number,
                    {"name": "BIG-register", "country_code": "NLD"}, {"family_name": "van der Berg"})
    if register == "uk-gmc":  # mirror from the LRMP data file, through the CLI
        p = reg.Person("Gareth", "Williams", reg.gmc_number(), other="Huw")
        r = cli(hub, "import", "uk-gmc", str(reg.gmc_full(tmp / "lrmp.csv", [p])), "--quiet")
        assert r.exit_code == 0, r.output
        return Case(register, "GB", "Gareth Huw", "Williams", p.number,
                    {"name": "List of Registered Medical Practitioners", "country_code": "GBR"},
                    {"given_name": "Gareth Huw", "family_name": "Williams"})
    if register == "us-nppes":  # live NPI Registry API
        p = reg.Person("Maria", "Garcia Lopez", reg.npi(), other="Elena")
        fake.nppes[p.number] = reg.nppes_api_item(p)
        return Case(register, "US", "Maria Elena", "Garcia Lopez", p.number,
                    {"name": "NPPES NPI Registry", "country_code": "USA"},
                    {"given_name": "Maria Elena", "family_name": "Garcia Lopez"})
    p = reg.Person("Søren Æbelø", "Sørensen", reg.dk_id())  # daily extract, ISO-8859-15
    r = cli(hub, "import", "dk-sst", str(reg.dk_snapshot(tmp, [p])), "--quiet")
    assert r.exit_code == 0, r.output
    return Case(register, "DK", "Søren Æbelø", "Sørensen", p.number,
                {"name": "Autorisationsregisteret", "country_code": "DNK"},
                {"given_name": "Søren Æbelø", "family_name": "Sørensen"})


def verified_doctor(hub: RunningHub, fake: reg.FakeRegisters, tmp: Path, register: str = "uk-gmc"
                    ) -> tuple[DoctorAtHub, Case]:
    case = _case(register, hub, fake, tmp)
    doctor = new_doctor(hub, case.given, case.family)
    page = doctor.check(case.country, case.number)
    assert page.status_code == 200 and 'id="outcome"' in page.text and "<h2>Verified</h2>" in page.text, \
        page.text[:2000]
    return doctor, case


@pytest.mark.parametrize("register", ["nl-big", "uk-gmc", "us-nppes", "dk-sst"])
def test_verified_on_the_account_page_then_released_to_a_partner(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters, tmp_path: Path, register: str) -> None:
    doctor, case = verified_doctor(running_hub, fake_registers, tmp_path, register)
    assert "Verified" in doctor.page().text
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid profile")
    url, _ = rp.authorization_url(claims=claims_param(vc_request()))
    consent = doctor.browser.get(url)
    assert CONSENT_LABEL in consent.text
    tokens = rp.exchange(callback_params(doctor.browser.consent(consent)))
    id_claims = rp.validate_id_token(tokens["id_token"])

    vc = id_claims[VC]
    validate_verified_claims({VC: vc})
    assert vc["verification"]["assurance_level"] == "register_match"
    evidence = vc["verification"]["evidence"]
    assert [e["type"] for e in evidence] == ["electronic_record"]
    assert evidence[0]["record"] == {"type": "professional_register", "source": case.source}
    check = evidence[0]["check_details"][0]
    assert check["check_method"] == "data" and check["check_id"].startswith(f"{register}/{case.number}")
    if register == "us-nppes":  # NPPES does not prove a licence: the evidence says so
        assert check["check_id"].endswith("/licence-self-reported")
    registration = vc["claims"][REGISTRATIONS_CLAIM]
    assert [(r["register"], r["number"], r["jurisdiction"], r["profession"], r["status"])
            for r in registration] == [(register, case.number, case.country, "physician", "active")]
    assert {k: v for k, v in vc["claims"].items() if k != REGISTRATIONS_CLAIM} == case.released_names

    info = userinfo(rp, tokens["access_token"])
    assert info.status_code == 200
    validate_verified_claims({VC: info.json()[VC]})
    assert info.json()[VC] == vc


def test_max_age_shorter_than_the_last_check_releases_nothing(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters, tmp_path: Path) -> None:
    doctor, _ = verified_doctor(running_hub, fake_registers, tmp_path)
    two_hours_ago = utcnow() - timedelta(hours=2)
    with running_hub.hub.db.session() as s:
        s.execute(update(DoctorRegistration).where(DoctorRegistration.doctor_id == doctor.id)
                  .values(verified_at=two_hours_ago, checked_at=two_hours_ago))
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
    strict = sign_in(rp, doctor, claims=claims_param(vc_request(max_age=3600)))
    assert VC not in strict["id_claims"]
    assert VC not in userinfo(rp, strict["access_token"]).json()
    # Constraints are per element: an unmet level leaves it out as well.
    level = sign_in(rp, doctor, claims=claims_param(vc_request(level="professional_eid")))
    assert VC not in level["id_claims"]
    lenient = sign_in(rp, doctor, claims=claims_param(vc_request(max_age=4 * 3600)))
    assert lenient["id_claims"][VC]["verification"]["time"] == two_hours_ago.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_register_delta_withdraws_the_claim_and_kills_the_refresh_token(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters, tmp_path: Path) -> None:
    doctor, case = verified_doctor(running_hub, fake_registers, tmp_path)
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid offline_access")
    before = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert VC in before["id_claims"] and before["refresh_token"]

    person = reg.Person("Gareth", "Williams", case.number, other="Huw")
    delta = reg.gmc_delta(tmp_path / "delta.csv", [(person, "Suspended")])
    result = cli(running_hub, "import", "uk-gmc", str(delta), "--delta", "--quiet")
    assert result.exit_code == 0, result.output
    assert "1 verified registrations withdrawn" in result.output
    assert f"withdrawn: doctor {doctor.id}: sessions ended" in result.output

    creds = (rp.creds["client_id"], rp.creds["client_secret"])
    refresh = requests.post(rp.meta["token_endpoint"], auth=creds, timeout=10,
                            data={"grant_type": "refresh_token", "refresh_token": before["refresh_token"]})
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert userinfo(rp, before["access_token"]).status_code == 401
    # The SSO session ended too: the next sign-in asks for the password again...
    url, _ = rp.authorization_url(claims=claims_param(vc_request()))
    assert 'action="/login"' in doctor.browser.get(url).text
    # ...and the new tokens carry no verified_claims.
    after = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert VC not in after["id_claims"]
    assert VC not in userinfo(rp, after["access_token"]).json()
    assert "Not active in the register" in doctor.page().text
    with running_hub.hub.db.session() as s:
        reg_row = s.execute(select(DoctorRegistration)
                            .where(DoctorRegistration.doctor_id == doctor.id)).scalar_one()
        assert reg_row.withdrawal_handled_at is not None
        details = [json.loads(r.detail) for r in s.scalars(
            select(AuditRecord).where(AuditRecord.event == "doctor:verification:withdrawn"))]
    assert any(d.get("doctor") == doctor.id and d["clients"] == [rp.creds["client_id"]] for d in details)


def test_physician_scope_releases_the_default_request(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters, tmp_path: Path) -> None:
    meta = running_hub.metadata()
    assert PHYSICIAN_SCOPE in meta["scopes_supported"] and VC in meta["claims_supported"]
    assert {k: meta[k] for k in DISCOVERY_METADATA} == DISCOVERY_METADATA
    assert meta["claims_parameter_supported"] is True
    doctor, case = verified_doctor(running_hub, fake_registers, tmp_path)
    rp = RelyingParty(running_hub, running_hub.client(), scope=f"openid {PHYSICIAN_SCOPE}")
    url, _ = rp.authorization_url()
    consent = doctor.browser.get(url)
    assert CONSENT_LABEL in consent.text
    tokens = rp.exchange(callback_params(doctor.browser.consent(consent)))
    id_claims = rp.validate_id_token(tokens["id_token"])
    vc = id_claims[VC]
    validate_verified_claims({VC: vc})
    assert set(vc["verification"]) == {"trust_framework", "assurance_level", "time", "verification_process",
                                       "evidence", LICENCE_MEMBER}
    assert vc["verification"][LICENCE_MEMBER] == "unrestricted"
    assert vc["verification"]["evidence"][0]["check_details"][0]["organization"] == "General Medical Council"
    assert vc["claims"][REGISTRATIONS_CLAIM][0]["number"] == case.number
    assert userinfo(rp, tokens["access_token"]).json()[VC] == vc
    account = doctor.browser.get(f"{running_hub.issuer}/account").text
    assert 'href="/account/verification"' in account and "verified physician status" in account


def test_the_self_declared_profession_never_enters_verified_claims(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters, tmp_path: Path) -> None:
    doctor, _ = verified_doctor(running_hub, fake_registers, tmp_path)
    resp = doctor.post("/profession", {"profession": "Cardiologist (honorary)"})
    assert resp.status_code == 303
    extra: dict[str, Any] = {SELF_DECLARED_CLAIM: None}
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
    url, _ = rp.authorization_url(claims=claims_param(vc_request(), extra=extra))
    consent = doctor.browser.get(url)
    assert "The profession you stated yourself (not checked by Curbside)" in consent.text
    tokens = rp.exchange(callback_params(doctor.browser.consent(consent)))
    id_claims = rp.validate_id_token(tokens["id_token"])
    info = userinfo(rp, tokens["access_token"]).json()
    for body in (id_claims, info):
        assert body[SELF_DECLARED_CLAIM] == "Cardiologist (honorary)"
        assert VC in body
        assert not contains(body[VC], "Cardiologist") and not contains(body[VC], SELF_DECLARED_CLAIM)

    # An unverified doctor may state a profession: it travels, verified_claims does not.
    honour = new_doctor(running_hub, "Hugo", "Honour")
    assert honour.post("/profession", {"profession": "Surgeon"}).status_code == 303
    plain = sign_in(rp, honour, claims=claims_param(vc_request(), extra=extra))
    assert plain["id_claims"][SELF_DECLARED_CLAIM] == "Surgeon" and VC not in plain["id_claims"]


def test_a_sign_in_without_verified_claims_never_reads_verification_tables(running_hub: RunningHub) -> None:
    doctor = new_doctor(running_hub, "Quiet", "Path")
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid profile")
    seen: list[str] = []

    def spy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "doctor_registrations" in statement or "identity_evidence" in statement \
                or "self_declared_professions" in statement:
            seen.append(statement)

    engine = running_hub.hub.db.engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        tokens = sign_in(rp, doctor)
        assert userinfo(rp, tokens["access_token"]).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert seen == []


@pytest.mark.parametrize("bad", [
    {"id_token": {VC: {"claims": {"given_name": None}}}},  # no verification
    {"userinfo": {VC: {"verification": {"trust_framework": None}, "claims": {}}}},  # empty claims
    {"id_token": {VC: "yes"}},
    {"id_token": {VC: {"verification": {"trust_framework": None, "time": {"max_age": -5}},
                       "claims": {"given_name": None}}}},
    {"userinfo": {VC: {"verification": {"trust_framework": None, "evidence": [{"type": None}]},
                       "claims": {"given_name": None}}}},
    {"id_token": {VC: [{"verification": {"trust_framework": None}, "claims": None, "extra": 1}]}},
])
def test_malformed_verified_claims_requests_are_invalid_request(
        running_hub: RunningHub, bad: dict[str, Any]) -> None:
    doctor = new_doctor(running_hub, "Malformed", "Request")
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
    url, _ = rp.authorization_url(claims=json.dumps(bad))
    params = callback_params(doctor.browser.get(url))
    assert params["error"] == "invalid_request" and params["iss"] == running_hub.issuer
    assert "Identity Assurance" in params["error_description"]


def test_an_array_request_selects_elements(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters, tmp_path: Path) -> None:
    doctor, case = verified_doctor(running_hub, fake_registers, tmp_path)
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
    wanted = [vc_request(level="professional_eid"), vc_request(level="register_match")]
    tokens = sign_in(rp, doctor, claims=claims_param(wanted, members=("id_token",)))
    vc = tokens["id_claims"][VC]
    validate_verified_claims({VC: vc})
    assert isinstance(vc, list) and len(vc) == 1
    assert vc[0]["claims"][REGISTRATIONS_CLAIM][0]["number"] == case.number
    assert VC not in userinfo(rp, tokens["access_token"]).json()  # asked for in the ID token only
