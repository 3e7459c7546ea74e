"""A register that is down or times out never blocks anyone and never says "no": the
verification page answers within the live lookup's deadline (from the mirror when it has a
copy, otherwise "unavailable, Curbside will try again", and the worker's re-check does), sign-in
never asks a register at all, and a re-check during an outage keeps what was verified.

The live registers are the local fake (tests/verification_flows/registers.py) that the hub
reaches through CURBSIDE_BIG_ENDPOINT and CURBSIDE_NPPES_API_URL; an outage is staged on it."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from connectors.resilience import RetryPolicy
from hub.persistence.db import utcnow
from hub.persistence.models.registers import DoctorRegistration
from hub.verification import jobs
from tests.flows.conftest import RelyingParty, RunningHub
from tests.verification_flows import registers as reg
from tests.verification_flows.helpers import (
    VC,
    DoctorAtHub,
    claims_param,
    cli,
    new_doctor,
    sign_in,
    vc_request,
)

DEADLINE = RetryPolicy().deadline  # the production policy: the hub is not reconfigured for tests


def _big_in_mirror(hub: RunningHub, tmp: Path) -> reg.Person:
    p = reg.Person("Pieter", "Vries", reg.big_number(), prefix="de", initials="P.")
    r = cli(hub, "import", "nl-big", str(reg.big_mirror(tmp / "big.xml", [p])), "--quiet")
    assert r.exit_code == 0, r.output
    return p


def _registration(hub: RunningHub, doctor: DoctorAtHub) -> DoctorRegistration:
    with hub.hub.db.session() as s:
        return s.execute(select(DoctorRegistration).where(DoctorRegistration.doctor_id == doctor.id)).scalar_one()


def _age_checks(hub: RunningHub, doctor: DoctorAtHub, by: timedelta) -> None:
    with hub.hub.db.session() as s:
        s.execute(update(DoctorRegistration).where(DoctorRegistration.doctor_id == doctor.id)
                  .values(checked_at=utcnow() - by))


def test_a_stalled_register_is_answered_from_the_mirror_in_time(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters, tmp_path: Path) -> None:
    p = _big_in_mirror(running_hub, tmp_path)
    doctor = new_doctor(running_hub, "Pieter", "de Vries")
    fake_registers.stalled.add("big")
    start = time.monotonic()
    page = doctor.check("NL", p.number)
    assert time.monotonic() - start < DEADLINE + 1.5
    assert "<h2>Verified</h2>" in page.text
    assert "checked against Curbside&#39;s copy of the register" in page.text
    assert "ReadTimeout" not in page.text and "unavailable" not in page.text  # no internals shown
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
    start = time.monotonic()
    tokens = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert time.monotonic() - start < 3
    evidence = tokens["id_claims"][VC]["verification"]["evidence"][0]
    assert evidence["record"]["source"]["country_code"] == "NLD"


def test_big_down_without_a_copy_is_unavailable_and_checked_again(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters, tmp_path: Path) -> None:
    """The BIG-register is down and Curbside's copy (loaded, with other doctors) lacks this
    registration: the doctor is told it is not a refusal and will be retried, and the
    worker's re-check verifies it once the register answers again."""
    _big_in_mirror(running_hub, tmp_path)
    p = reg.Person("Sanne", "Visser", reg.big_number(), initials="S.")
    doctor = new_doctor(running_hub, "Sanne", "Visser")
    fake_registers.down.add("big")
    page = doctor.check("NL", p.number)
    assert page.status_code == 200
    assert "<h2>The register could not be reached — Curbside will try again</h2>" in page.text
    assert "This is not a refusal" in page.text and "about 15 minutes" in page.text
    assert "Not found" not in page.text and "HTTP 503" not in page.text
    assert "Register could not be reached: Curbside will ask again" in doctor.page().text
    row = _registration(running_hub, doctor)
    assert row.status == "unavailable" and row.verified_at is None

    # The register is back (the doctor is in it); the worker's periodic job asks again
    # once the check is older than CURBSIDE_VERIFICATION_UNAVAILABLE_RETRY.
    fake_registers.down.clear()
    fake_registers.big[p.number] = reg.big_element(p)
    jobs.recheck_due(running_hub.hub)
    assert _registration(running_hub, doctor).status == "unavailable"  # not due yet
    _age_checks(running_hub, doctor, timedelta(minutes=16))
    summary = jobs.recheck_due(running_hub.hub)
    assert summary.by_status.get("match", 0) >= 1
    row = _registration(running_hub, doctor)
    assert row.status == "match" and row.method == "live"
    assert "<td>Verified" in doctor.page().text


def test_sign_in_never_waits_for_a_register(running_hub: RunningHub, fake_registers: reg.FakeRegisters) -> None:
    # Verified live while the register answered...
    p = reg.Person("Lotte", "Jong", reg.big_number(), prefix="de", initials="L.")
    fake_registers.big[p.number] = reg.big_element(p)
    doctor = new_doctor(running_hub, "Lotte", "de Jong")
    assert "<h2>Verified</h2>" in doctor.check("NL", p.number).text
    # ...then it stalls, with the production deadline: sign-in does not notice.
    fake_registers.stalled.add("big")
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid offline_access")
    start = time.monotonic()
    tokens = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert time.monotonic() - start < 3 and VC in tokens["id_claims"]


def test_a_recheck_during_an_outage_keeps_the_verification(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters) -> None:
    p = reg.Person("Bram", "Berg", reg.big_number(), prefix="van den", initials="B.")
    fake_registers.big[p.number] = reg.big_element(p)
    doctor = new_doctor(running_hub, "Bram", "van den Berg")
    assert "<h2>Verified</h2>" in doctor.check("NL", p.number).text
    fake_registers.down.add("big")
    _age_checks(running_hub, doctor, timedelta(days=40))
    r = cli(running_hub, "recheck", "--older-than", "30d", "--limit", "1000")
    assert r.exit_code == 0 and "re-checked" in r.output, r.output
    row = _registration(running_hub, doctor)
    # The live answer was kept in the mirror, which answers during the outage.
    assert row.status == "match" and row.checked_at > utcnow() - timedelta(minutes=5)
    assert row.withdrawn_at is None
