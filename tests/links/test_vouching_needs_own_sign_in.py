"""Found in review (2026-12): vouching for a colleague is a verification act in the
doctor's name, so it needs the account's own authentication, not a linked network's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.persistence.db import utcnow
from hub.persistence.models.registers import DoctorRegistration, Vouch
from hub.verification.registry import REGISTERS
from tests.flows.conftest import Browser
from tests.links.linkkit import Doctor, Net
from tests.links.test_brokered_second_factor import brokered_sign_in


def verify_registration(hub: Any, doctor_id: str) -> str:
    """The doctor's registration was confirmed by a register; returns its country."""
    register = next(iter(REGISTERS.values()))
    with hub.db.session() as s:
        s.add(DoctorRegistration(doctor_id=doctor_id, register=register.id, number=doctor_id[:12],
                                 country=register.country, profession="physician",
                                 status="match", method="live", checked_at=utcnow(),
                                 verified_at=utcnow()))
    return register.country


def vouches_by(hub: Any, voucher_id: str) -> list[str]:
    with hub.db.session() as s:
        return list(s.scalars(select(Vouch.vouchee_id).where(Vouch.voucher_id == voucher_id)))


def vouch(browser: Browser, issuer: str, email: str, country: str) -> Any:
    page = browser.get(f"{issuer}/account/verification")
    assert page.status_code == 200, page.text[:300]
    return browser.post(f"{issuer}/account/verification/vouch",
                        {"csrf": Browser.hidden(page)["csrf"], "email": email,
                         "jurisdiction": country})


def test_a_brokered_session_cannot_vouch_for_a_colleague(
        hub: Any, doctor: Doctor, make_net: Any, running_hub: Any) -> None:
    country = verify_registration(hub, doctor.id)
    colleague = running_hub.doctor()
    net: Net = make_net("oidc", display_name="Artsennet")
    doctor.link(net)
    # Whoever controls the doctor's upstream account signs in to the hub through it ...
    b, _, back = brokered_sign_in(running_hub, net)
    b.through(back, doctor.account.email)
    assert 'action="/login"' not in b.get(running_hub.issuer + "/account").text
    # ... and cannot vouch in her name; the page says why.
    refused = vouch(b, running_hub.issuer, colleague.email, country)
    assert refused.status_code == 403 and "password" in refused.text
    assert vouches_by(hub, doctor.id) == []
    # The doctor's own password session vouches.
    done = vouch(doctor.browser, running_hub.issuer, colleague.email, country)
    assert done.status_code == 200 and "Thank you" in done.text
    assert vouches_by(hub, doctor.id) == [colleague.id]
