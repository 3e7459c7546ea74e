"""What the registers publish, seen through the doctor's page, the `hub registers` CLI and
the tokens a partner network gets: a GMC licence with conditions is not an unrestricted
physician claim, an unlicensed registration is none, a later file that restricts or
withdraws ends the doctor's sessions, and a Danish extract that would withdraw too many
is refused unless an operator accepts it (audited)."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from sqlalchemy import select

from hub.persistence.models.audit import AuditRecord
from hub.persistence.models.registers import DoctorRegistration
from hub.verification import review
from hub.verification.schemas import validate_verified_claims
from hub.verification.vocabulary import LICENCE_MEMBER, REGISTRATIONS_CLAIM, TRUST_FRAMEWORK
from tests.flows.conftest import RelyingParty, RunningHub
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


def _unrestricted_only() -> dict[str, object]:
    request = vc_request()
    request["verification"][LICENCE_MEMBER] = {"value": "unrestricted"}  # type: ignore[index]
    return request


def _gmc_doctor(hub: RunningHub, tmp: Path, **flags: str) -> tuple[DoctorAtHub, reg.Person]:
    p = reg.Person("Gareth", "Williams", reg.gmc_number(), other="Huw")
    status = flags.pop("status", "Registered with Licence")
    r = cli(hub, "import", "uk-gmc", str(reg.gmc_full(tmp / f"lrmp-{p.number}.csv", [p], status, **flags)),
            "--quiet")
    assert r.exit_code == 0, r.output
    return new_doctor(hub, "Gareth Huw", "Williams"), p


def _refresh(rp: RelyingParty, token: str) -> requests.Response:
    return requests.post(rp.meta["token_endpoint"], auth=(rp.creds["client_id"], rp.creds["client_secret"]),
                         data={"grant_type": "refresh_token", "refresh_token": token}, timeout=10)


def test_a_gmc_licence_with_conditions_is_never_an_unrestricted_claim(running_hub: RunningHub,
                                                                       tmp_path: Path) -> None:
    doctor, p = _gmc_doctor(running_hub, tmp_path, conditions="Y")
    page = doctor.check("GB", p.number)
    assert "<h2>Verified</h2>" not in page.text and "Sent to manual review" in page.text, page.text[:3000]
    assert "fitness to practise conditions" in page.text
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
    assert VC not in sign_in(rp, doctor, claims=claims_param(vc_request()))["id_claims"]

    # A verifier judges the conditions compatible: the claim is released, marked restricted.
    with running_hub.hub.db.session() as s:
        reg_id = s.execute(select(DoctorRegistration.id)
                           .where(DoctorRegistration.doctor_id == doctor.id)).scalar_one()
    review.approve_registration(running_hub.hub, reg_id, reviewer="admin-7", reason="conditions seen")
    tokens = sign_in(rp, doctor, claims=claims_param(vc_request()))
    vc = tokens["id_claims"][VC]
    validate_verified_claims({VC: vc})  # the official OIDC4IDA schema allows the member
    assert vc["verification"]["trust_framework"] == TRUST_FRAMEWORK
    assert vc["verification"][LICENCE_MEMBER] == "restricted"
    assert vc["claims"][REGISTRATIONS_CLAIM][0]["status"] == "restricted"
    assert userinfo(rp, tokens["access_token"]).json()[VC] == vc
    # A partner that admits only unrestricted licences asks so, and gets nothing.
    strict = sign_in(rp, doctor, claims=claims_param(_unrestricted_only()))
    assert VC not in strict["id_claims"]
    assert VC not in userinfo(rp, strict["access_token"]).json()


def test_a_gmc_warning_alone_restricts_nothing(running_hub: RunningHub, tmp_path: Path) -> None:
    doctor, p = _gmc_doctor(running_hub, tmp_path, warnings="Y")
    assert "<h2>Verified</h2>" in doctor.check("GB", p.number).text
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
    vc = sign_in(rp, doctor, claims=claims_param(_unrestricted_only()))["id_claims"][VC]
    validate_verified_claims({VC: vc})
    assert vc["verification"][LICENCE_MEMBER] == "unrestricted"


def test_registered_without_a_licence_is_no_physician_claim(running_hub: RunningHub, tmp_path: Path) -> None:
    for status in ("Registered without a Licence", "Provisionally registered without a Licence"):
        doctor, p = _gmc_doctor(running_hub, tmp_path, status=status)
        page = doctor.check("GB", p.number)
        assert "Not active in the register" in page.text and "not licensed to practise" in page.text, \
            page.text[:3000]
        rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
        assert VC not in sign_in(rp, doctor, claims=claims_param(vc_request()))["id_claims"]


def test_a_delta_that_adds_conditions_ends_the_sessions_and_the_refresh_token(
        running_hub: RunningHub, tmp_path: Path) -> None:
    doctor, p = _gmc_doctor(running_hub, tmp_path)
    assert "<h2>Verified</h2>" in doctor.check("GB", p.number).text
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid offline_access")
    before = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert before["id_claims"][VC]["verification"][LICENCE_MEMBER] == "unrestricted"

    # The daily delta, in the full file's layout: only the changed row, undertakings now Y.
    delta = reg.gmc_delta(tmp_path / "delta.csv", [(p, "Registered with Licence")], undertakings="Y")
    r = cli(running_hub, "import", "uk-gmc", str(delta), "--delta", "--quiet")
    assert r.exit_code == 0, r.output
    assert "1 restricted, 1 verified registrations withdrawn" in r.output
    assert f"withdrawn: doctor {doctor.id}: sessions ended" in r.output
    assert _refresh(rp, before["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(rp, before["access_token"]).status_code == 401
    after = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert VC not in after["id_claims"]


def _dk_doctor(hub: RunningHub, tmp: Path) -> tuple[DoctorAtHub, reg.Person]:
    p = reg.Person("Mette", "Nielsen", reg.dk_id())
    r = cli(hub, "import", "dk-sst", str(reg.dk_snapshot(tmp, [p])), "--quiet")
    assert r.exit_code == 0, r.output
    doctor = new_doctor(hub, "Mette", "Nielsen")
    assert "<h2>Verified</h2>" in doctor.check("DK", p.number).text
    return doctor, p


def test_a_dk_dry_run_names_who_would_lose_the_claim_then_the_extract_ends_their_sessions(
        running_hub: RunningHub, tmp_path: Path) -> None:
    doctor, p = _dk_doctor(running_hub, tmp_path)
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid offline_access")
    before = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert VC in before["id_claims"]

    extract = reg.dk_snapshot(tmp_path, [], withdraw=(p,))
    dry = cli(running_hub, "import", "dk-sst", str(extract), "--delta", "--dry-run", "--quiet")
    assert dry.exit_code == 0, dry.output
    assert "dry run, nothing written" in dry.output
    assert f"would lose claim: doctor {doctor.id}: dk-sst {p.number} (inactive:" in dry.output
    assert _refresh(rp, before["refresh_token"]).status_code == 200  # nothing happened yet

    applied = cli(running_hub, "import", "dk-sst", str(extract), "--delta", "--quiet")
    assert applied.exit_code == 0, applied.output
    assert f"withdrawn: doctor {doctor.id}: sessions ended" in applied.output
    assert _refresh(rp, before["refresh_token"]).json()["error"] == "invalid_grant"
    assert VC not in sign_in(rp, doctor, claims=claims_param(vc_request()))["id_claims"]


def test_a_dk_extract_that_is_undated_stale_or_withdraws_too_many_is_refused(
        running_hub: RunningHub, tmp_path: Path) -> None:
    doctor, p = _dk_doctor(running_hub, tmp_path)
    colleagues = [reg.Person("Lars", f"Holm{i}", reg.dk_id()) for i in range(4)]
    assert cli(running_hub, "import", "dk-sst", str(reg.dk_snapshot(tmp_path, colleagues)),
               "--delta", "--quiet").exit_code == 0
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid offline_access")
    before = sign_in(rp, doctor, claims=claims_param(vc_request()))

    undated = tmp_path / "AutDK.csv"
    undated.write_bytes(f"{p.number};0101011234;Nielsen;Mette;7170\n".encode("iso-8859-15"))
    r = cli(running_hub, "import", "dk-sst", str(undated), "--delta", "--quiet")
    assert r.exit_code == 1 and r.output.startswith(f"error: {undated}: refused: ") and "yyyyMMdd" in r.output
    stale = tmp_path / "20250101AutDK.csv"
    stale.write_bytes(undated.read_bytes())
    r = cli(running_hub, "import", "dk-sst", str(stale), "--delta", "--quiet")
    assert r.exit_code == 1 and "not after the last applied one" in r.output, r.output

    # Five authorisations gone at once (the doctor and four colleagues): over the guard.
    shrunk = reg.dk_snapshot(tmp_path, [], withdraw=(p, *colleagues))
    r = cli(running_hub, "import", "dk-sst", str(shrunk), "--delta", "--quiet")
    assert r.exit_code == 1 and "would withdraw 5 of" in r.output and "Traceback" not in r.output, r.output
    assert f"would lose claim: doctor {doctor.id}" in r.output
    assert _refresh(rp, before["refresh_token"]).status_code == 200  # nobody lost anything
    with running_hub.hub.db.session() as s:
        assert s.execute(select(DoctorRegistration.status)
                         .where(DoctorRegistration.doctor_id == doctor.id)).scalar_one() == "match"

    accepted = cli(running_hub, "import", "dk-sst", str(shrunk), "--delta", "--accept-withdrawals", "--quiet")
    assert accepted.exit_code == 0, accepted.output
    assert "5 withdrawals applied over the import guard" in accepted.output
    assert f"withdrawn: doctor {doctor.id}: sessions ended" in accepted.output
    assert _refresh(rp, before["refresh_token"]).json()["error"] == "invalid_grant"
    with running_hub.hub.db.session() as s:
        audit = [json.loads(a.detail) | {"actor": a.actor} for a in s.scalars(
            select(AuditRecord).where(AuditRecord.event == "admin:register:withdrawals_accepted"))]
    assert {"actor": "cli", "register": "dk-sst", "file": shrunk.name, "withdrawals": 5} \
        .items() <= audit[-1].items()
