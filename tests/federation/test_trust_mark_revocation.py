"""A revoked trust mark stops counting promptly (OpenID Federation 1.0 sections 7 and 8.4),
not only when the member's chain expires: at once when the hub issued and revoked it
itself, and within the status TTL when a foreign issuer's status endpoint says so. Through
real sockets: the member signs a doctor in under a policy that requires the mark."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from werkzeug.wrappers import Request, Response

from federation import (
    TRUST_MARK_STATUS_RESPONSE_MEDIA_TYPE,
    build_trust_mark,
    build_trust_mark_status_response,
)
from hub.domain.federation import TRUST_MARK_STATUS_TTL
from hub.domain.federation_authority import FederationAuthority
from hub.persistence.models.federation import FederationRegistration
from hub.persistence.models.registers import SelfDeclaredProfession
from hub.relying.policy import store
from tests.flows.conftest import Browser, RunningHub, callback_params
from tests.flows.federation_net import Member, Network, PartnerBackEnd, anchored, fed_hub, new_network

__all__ = ["fed_hub"]  # the fixture
MARK = "https://curbside.example/trust-marks/verified-physicians-only"
POLICY = {"version": 1, "claims": {"allowed": ["sub"]}, "access": {"min_assurance_level": "self_declared"},
          "require_trust_marks": [MARK]}


class StatusNetwork(Network):
    """Authorities also answer the trust mark status endpoint (section 8.4) from
    ``statuses`` (trust mark JWT -> status)."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[str, str] = {}

    def authority(self, name: str, **kw: object) -> Member:
        m = super().authority(name, **kw)  # type: ignore[arg-type]
        m.metadata["federation_entity"]["federation_trust_mark_status_endpoint"] = m.id + "/status"
        return m

    def _answer(self, request: Request) -> Response:
        for m in self.members.values():
            if self.base + request.path == m.id + "/status" and request.method == "POST":
                token = request.form.get("trust_mark", "")
                if token not in self.statuses:
                    return Response('{"error":"not_found"}', 404, mimetype="application/json")
                body = build_trust_mark_status_response(issuer=m.id, trust_mark=token,
                                                        status=self.statuses[token], key=m.key,
                                                        now=int(time.time()))
                return Response(body, mimetype=TRUST_MARK_STATUS_RESPONSE_MEDIA_TYPE)
        return super()._answer(request)


@pytest.fixture(scope="module")
def net() -> Iterator[StatusNetwork]:
    yield from anchored(StatusNetwork())


def _sign_in(hub: RunningHub, rp: Member) -> requests.Response:
    doctor = hub.doctor()
    with hub.hub.db.session() as s:
        s.add(SelfDeclaredProfession(doctor_id=doctor.id, profession="physician"))
    browser = Browser(hub)
    return browser.through(browser.get(PartnerBackEnd(hub, rp).authorization_url()), str(doctor.email))


def _joined_under_policy(hub: RunningHub, rp: Member) -> None:
    assert "code" in callback_params(_sign_in(hub, rp))
    store(hub.hub).set(rp.id, POLICY, actor="test")
    assert "code" in callback_params(_sign_in(hub, rp))  # the mark counts


def _refused(resp: requests.Response) -> bool:
    return resp.status_code == 403 and "trust mark" in resp.text


def test_a_mark_the_hub_revokes_stops_counting_at_once(fed_hub: RunningHub, net: StatusNetwork) -> None:
    anchor = net.anchor  # type: ignore[attr-defined]
    fed = fed_hub.hub.federation
    # The anchor vouches for the hub and recognises it as the issuer of the mark.
    net.members[fed_hub.issuer] = hub_member = Member(fed_hub.issuer, fed.keys.signing_key(), {})
    net.enrol(anchor, hub_member)
    anchor.trust_mark_issuers = {MARK: [fed_hub.issuer]}
    authority = FederationAuthority(fed)
    rp = new_network(net, "hub-marked")
    rp.trust_marks = [{"trust_mark_type": MARK, "trust_mark": authority.issue_trust_mark(rp.id, MARK)}]
    try:
        _joined_under_policy(fed_hub, rp)
        assert authority.revoke_trust_marks(rp.id, MARK) == 1
        assert _refused(_sign_in(fed_hub, rp))  # no wait for the chain (an hour) to expire
        with fed_hub.hub.db.session() as s:
            assert s.get(FederationRegistration, rp.id).trust_marks == []
    finally:
        anchor.trust_mark_issuers = None


def test_a_foreign_revocation_takes_effect_within_the_status_ttl(fed_hub: RunningHub,
                                                                 net: StatusNetwork) -> None:
    anchor = net.anchor  # type: ignore[attr-defined]
    anchor.trust_mark_issuers = {MARK: [anchor.id]}
    rp = new_network(net, "anchor-marked")
    token = build_trust_mark(issuer=anchor.id, subject=rp.id, trust_mark_type=MARK, key=anchor.key,
                             now=int(time.time()), lifetime=86400)
    rp.trust_marks = [{"trust_mark_type": MARK, "trust_mark": token}]
    net.statuses[token] = "active"
    try:
        asked = len([h for h in net.hits if h == "/anchor/status"])
        _joined_under_policy(fed_hub, rp)
        assert len([h for h in net.hits if h == "/anchor/status"]) > asked  # the issuer was asked

        net.statuses[token] = "revoked"
        fed_hub.hub.clients.forget(rp.id)
        # Within the TTL the last answer stands: the issuer is not asked on every sign-in.
        assert "code" in callback_params(_sign_in(fed_hub, rp))
        with fed_hub.hub.db.session() as s:  # the TTL has passed
            s.get(FederationRegistration, rp.id).resolved_at = (
                datetime.now(UTC) - timedelta(seconds=TRUST_MARK_STATUS_TTL + 1))
        fed_hub.hub.clients.forget(rp.id)
        assert _refused(_sign_in(fed_hub, rp))
    finally:
        anchor.trust_mark_issuers = None


def test_an_unanswered_status_check_does_not_count_the_mark(fed_hub: RunningHub, net: StatusNetwork) -> None:
    anchor = net.anchor  # type: ignore[attr-defined]
    anchor.trust_mark_issuers = {MARK: [anchor.id]}
    rp = new_network(net, "anchor-unknown")
    token = build_trust_mark(issuer=anchor.id, subject=rp.id, trust_mark_type=MARK, key=anchor.key,
                             now=int(time.time()), lifetime=86400)
    rp.trust_marks = [{"trust_mark_type": MARK, "trust_mark": token}]  # the issuer answers 404
    try:
        assert "code" in callback_params(_sign_in(fed_hub, rp))  # joins: no policy yet
        store(fed_hub.hub).set(rp.id, POLICY, actor="test")
        assert _refused(_sign_in(fed_hub, rp))
    finally:
        anchor.trust_mark_issuers = None
