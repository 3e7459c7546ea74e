"""An NPI that CMS deactivates stops travelling in tokens, whichever way NPPES says so: the
NPI Registry's HTTP 200 ``Errors`` 15 at a re-check, or the Deactivated NPI Report
imported as the xlsx CMS publishes. The hub reaches the local fake API through
CURBSIDE_NPPES_API_URL; the doctor and the partner network use the running hub."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import requests
from sqlalchemy import select, update

from hub.persistence.db import utcnow
from hub.persistence.models.registers import DoctorRegistration
from tests.flows.conftest import RelyingParty, RunningHub
from tests.verification import published as pub
from tests.verification_flows import registers as reg
from tests.verification_flows.helpers import (
    VC,
    DoctorAtHub,
    claims_param,
    cli,
    new_doctor,
    sign_in,
    userinfo,
    vc_request,
)


def _verified_at_nppes(hub: RunningHub, fake: reg.FakeRegisters) -> tuple[DoctorAtHub, reg.Person]:
    p = reg.Person("Grace", "Hopper", reg.npi())
    fake.nppes[p.number] = reg.nppes_api_item(p)
    doctor = new_doctor(hub, "Dr. Grace", "Hopper")  # a title in the account name is no obstacle
    page = doctor.check("US", p.number, state="MA")
    assert "<h2>Verified</h2>" in page.text, page.text[:2000]
    return doctor, p


def _registration(hub: RunningHub, doctor: DoctorAtHub) -> DoctorRegistration:
    with hub.hub.db.session() as s:
        return s.execute(select(DoctorRegistration).where(DoctorRegistration.doctor_id == doctor.id)).scalar_one()


def _signed_in(hub: RunningHub, doctor: DoctorAtHub) -> tuple[RelyingParty, dict]:
    rp = RelyingParty(hub, hub.client(), scope="openid offline_access")
    tokens = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert VC in tokens["id_claims"]
    assert tokens["id_claims"][VC]["claims"]["given_name"] == "Grace"  # released without the title
    return rp, tokens


def test_a_recheck_answered_with_errors_15_withdraws_the_verified_npi(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters) -> None:
    doctor, p = _verified_at_nppes(running_hub, fake_registers)
    rp, before = _signed_in(running_hub, doctor)
    fake_registers.deactivated.add(p.number)
    with running_hub.hub.db.session() as s:
        s.execute(update(DoctorRegistration).where(DoctorRegistration.doctor_id == doctor.id)
                  .values(checked_at=utcnow() - timedelta(days=40)))
    r = cli(running_hub, "recheck", "--older-than", "30d", "--limit", "1000")
    assert r.exit_code == 0 and f"withdrawn: doctor {doctor.id}: sessions ended" in r.output, r.output
    row = _registration(running_hub, doctor)
    assert row.status == "inactive" and "deactivated" in row.reason and row.withdrawn_at is not None
    assert userinfo(rp, before["access_token"]).status_code == 401
    after = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert VC not in after["id_claims"]
    assert "Not active in the register" in doctor.page().text


def test_the_xlsx_deactivation_report_withdraws_the_verified_npi(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters, tmp_path: Path) -> None:
    doctor, p = _verified_at_nppes(running_hub, fake_registers)
    rp, before = _signed_in(running_hub, doctor)
    report = pub.deactivation_report_xlsx(tmp_path / "NPPES Deactivated NPI Report 20261207.xlsx",
                                          [[int(p.number), "12/01/2026"], [reg.npi(), "12/02/2026"]])
    r = cli(running_hub, "import", "us-nppes", str(report), "--deactivations", "--quiet")
    assert r.exit_code == 0, r.output
    assert "1 verified registrations withdrawn" in r.output
    assert f"withdrawn: doctor {doctor.id}: sessions ended" in r.output
    creds = (rp.creds["client_id"], rp.creds["client_secret"])
    refresh = requests.post(rp.meta["token_endpoint"], auth=creds, timeout=10,
                            data={"grant_type": "refresh_token", "refresh_token": before["refresh_token"]})
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    row = _registration(running_hub, doctor)
    assert row.status == "inactive" and "2026-12-01" in row.reason
