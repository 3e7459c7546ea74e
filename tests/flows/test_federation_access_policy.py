"""A network that joined by trust gets a policy like any client, and the policy may
require a trust mark the anchor recognises (OpenID Federation 1.0 section 7)."""

from __future__ import annotations

import time

from federation import build_trust_mark
from hub.persistence.models.registers import SelfDeclaredProfession
from hub.relying.policy import store
from tests.flows.conftest import Browser, RunningHub, callback_params
from tests.flows.federation_net import Network, PartnerBackEnd, fed_hub, net, new_network

__all__ = ["fed_hub", "net"]  # the fixtures
MARK = "https://curbside.example/trust-marks/verified-physicians-only"
POLICY = {"version": 1, "claims": {"allowed": ["sub", "https://curbside.health/claims/self_declared_profession"]},
          "access": {"min_assurance_level": "self_declared"}, "require_trust_marks": [MARK]}


def _doctor(hub: RunningHub) -> str:
    doctor = hub.doctor()
    with hub.hub.db.session() as s:
        s.add(SelfDeclaredProfession(doctor_id=doctor.id, profession="physician"))
    return str(doctor.email)


def _sign_in(hub: RunningHub, partner: PartnerBackEnd, email: str) -> object:
    browser = Browser(hub)
    return browser.through(browser.get(partner.authorization_url()), email)


def test_policy_requiring_a_trust_mark(fed_hub: RunningHub, net: Network) -> None:
    anchor = net.anchor  # type: ignore[attr-defined]
    anchor.trust_mark_issuers = {MARK: [anchor.id]}
    marked, unmarked = new_network(net, "marked"), new_network(net, "unmarked")
    marked.trust_marks = [{"trust_mark_type": MARK, "trust_mark": build_trust_mark(
        issuer=anchor.id, subject=marked.id, trust_mark_type=MARK, key=anchor.key, now=int(time.time()),
        lifetime=3600)}]
    # Both join by automatic registration; then the operator gives each the policy.
    for rp in (marked, unmarked):
        partner = PartnerBackEnd(fed_hub, rp)
        _sign_in(fed_hub, partner, _doctor(fed_hub))
        store(fed_hub.hub).set(rp.id, POLICY, actor="test")

    email = _doctor(fed_hub)
    refused = _sign_in(fed_hub, PartnerBackEnd(fed_hub, unmarked), email)
    assert refused.status_code == 403 and "trust mark" in refused.text
    partner = PartnerBackEnd(fed_hub, marked)
    assert "code" in callback_params(_sign_in(fed_hub, partner, email))
