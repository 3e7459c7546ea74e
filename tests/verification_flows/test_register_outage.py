"""A register that times out never blocks anyone: the verification page answers within the
live lookup's deadline (from the mirror), sign-in never asks a register at all, and a
re-check during an outage keeps what was verified."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from hub.db import utcnow
from hub.models.registers import DoctorRegistration
from hub.verification import registry
from hub.verification.resilience import CircuitBreaker, HttpPolicy
from tests.flows.conftest import RelyingParty, RunningHub
from tests.verification_flows import registers as reg
from tests.verification_flows.helpers import VC, claims_param, cli, new_doctor, sign_in, vc_request

FAST = HttpPolicy(connect_timeout=0.5, read_timeout=0.5, retries=1, backoff=0.05, deadline=1.0)


@pytest.fixture
def stalled_big(running_hub: RunningHub) -> Iterator[Any]:
    """The BIG-register's live interface accepts connections and never answers."""
    stalled = reg.StalledRegister()
    verifier: Any = registry.for_hub(running_hub.hub)["nl-big"]
    saved = (verifier.endpoint, verifier.policy, verifier.breaker)
    verifier.endpoint, verifier.policy, verifier.breaker = stalled.url, FAST, CircuitBreaker()
    verifier.stalled_url = stalled.url
    yield verifier
    verifier.endpoint, verifier.policy, verifier.breaker = saved
    del verifier.stalled_url
    stalled.close()


def _big_in_mirror(hub: RunningHub, tmp: Path) -> reg.Person:
    p = reg.Person("Pieter", "Vries", reg.big_number(), prefix="de", initials="P.")
    r = cli(hub, "import", "nl-big", str(reg.big_mirror(tmp / "big.xml", [p])), "--quiet")
    assert r.exit_code == 0, r.output
    return p


def test_a_stalled_register_is_answered_from_the_mirror_in_time(
        running_hub: RunningHub, stalled_big: Any, tmp_path: Path) -> None:
    p = _big_in_mirror(running_hub, tmp_path)
    doctor = new_doctor(running_hub, "Pieter", "de Vries")
    start = time.monotonic()
    page = doctor.check("NL", p.number)
    assert time.monotonic() - start < FAST.deadline + 1.5
    assert "<h2>Verified</h2>" in page.text
    assert "checked against Curbside&#39;s copy of the register" in page.text
    assert "ReadTimeout" not in page.text and "unavailable" not in page.text  # no internals shown
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
    start = time.monotonic()
    tokens = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert time.monotonic() - start < 3
    evidence = tokens["id_claims"][VC]["verification"]["evidence"][0]
    assert evidence["record"]["source"]["country_code"] == "NLD"


def test_unknown_to_the_mirror_while_the_register_stalls(running_hub: RunningHub, stalled_big: Any,
                                                          tmp_path: Path) -> None:
    _big_in_mirror(running_hub, tmp_path)
    doctor = new_doctor(running_hub, "Nieuw", "Geregistreerd")
    page = doctor.check("NL", reg.big_number())
    assert page.status_code == 200 and "did not answer in time" in page.text


def test_sign_in_never_waits_for_a_register(running_hub: RunningHub, fake_registers: reg.FakeRegisters,
                                            stalled_big: Any) -> None:
    # Verified live while the register answered...
    p = reg.Person("Lotte", "Jong", reg.big_number(), prefix="de", initials="L.")
    fake_registers.big[p.number] = reg.big_element(p)
    doctor = new_doctor(running_hub, "Lotte", "de Jong")
    stalled_big.endpoint = f"{fake_registers.base}/big"
    assert "<h2>Verified</h2>" in doctor.check("NL", p.number).text
    # ...then it stalls, with the production deadline: sign-in does not notice.
    stalled_big.endpoint, stalled_big.policy = stalled_big.stalled_url, HttpPolicy()
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid offline_access")
    start = time.monotonic()
    tokens = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert time.monotonic() - start < 3 and VC in tokens["id_claims"]


def test_a_recheck_during_an_outage_keeps_the_verification(
        running_hub: RunningHub, fake_registers: reg.FakeRegisters, stalled_big: Any) -> None:
    p = reg.Person("Bram", "Berg", reg.big_number(), prefix="van den", initials="B.")
    fake_registers.big[p.number] = reg.big_element(p)
    doctor = new_doctor(running_hub, "Bram", "van den Berg")
    stalled_big.endpoint = f"{fake_registers.base}/big"
    assert "<h2>Verified</h2>" in doctor.check("NL", p.number).text
    stalled_big.endpoint = stalled_big.stalled_url
    old = utcnow() - timedelta(days=40)
    with running_hub.hub.db.session() as s:
        s.execute(update(DoctorRegistration).where(DoctorRegistration.doctor_id == doctor.id)
                  .values(checked_at=old))
    r = cli(running_hub, "recheck", "--older-than", "30d", "--limit", "1000")
    assert r.exit_code == 0 and "re-checked" in r.output, r.output
    with running_hub.hub.db.session() as s:
        row = s.execute(select(DoctorRegistration)
                        .where(DoctorRegistration.doctor_id == doctor.id)).scalar_one()
    # The live answer was kept in the mirror, which answers during the outage.
    assert row.status == "match" and row.checked_at > old and row.withdrawn_at is None
