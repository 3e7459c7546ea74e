"""The hub as trust anchor and trust-mark issuer (OpenID Federation 1.0 sections 7, 8):
its fetch, list, resolve and trust-mark-status endpoints on a real socket, read by the
federation library's resolver acting as an independent relying party would."""

from __future__ import annotations

import secrets
import time

import requests

from federation import (
    ENTITY_STATEMENT_MEDIA_TYPE,
    RESOLVE_RESPONSE_MEDIA_TYPE,
    TRUST_MARK_STATUS_RESPONSE_MEDIA_TYPE,
    FetchFailed,
    TrustChainResolver,
    parse_entity_statement,
    parse_resolve_response,
    parse_trust_mark_status_response,
)
from hub.domain.federation_authority import FederationAuthority
from hub.protocol.federation import service
from tests.flows.conftest import RunningHub
from tests.flows.federation_net import Network, fed_hub, net, new_network

__all__ = ["fed_hub", "net"]  # the fixtures
TYPE = "https://curbside.example/trust-marks/verified-physicians-only"


def _get(url: str) -> bytes:
    resp = requests.get(url, timeout=5)
    if resp.status_code != 200:
        raise FetchFailed(f"{url} answered {resp.status_code}")
    return resp.content


def _hub_jwks(hub: RunningHub) -> dict:
    text = requests.get(f"{hub.issuer}/.well-known/openid-federation", timeout=5).text
    return dict(parse_entity_statement(text).jwks)


def test_a_network_enrolled_under_the_hub_resolves_to_it(fed_hub: RunningHub, net: Network) -> None:
    authority = FederationAuthority(service(fed_hub.hub))
    rp = net.relying_party(f"member-{secrets.token_hex(3)}", hints=[fed_hub.issuer])
    authority.enrol(rp.id, metadata_policy={"openid_relying_party": {
        "scope": {"subset_of": ["openid", "profile"], "default": ["openid"]}}})

    resp = requests.get(f"{fed_hub.issuer}/federation/fetch", params={"sub": rp.id}, timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith(ENTITY_STATEMENT_MEDIA_TYPE)
    statement = parse_entity_statement(resp.text).verify(_hub_jwks(fed_hub))
    assert statement.iss == fed_hub.issuer and statement.sub == rp.id
    assert statement.jwks == rp.jwks

    listed = requests.get(f"{fed_hub.issuer}/federation/list", timeout=5).json()
    assert rp.id in listed
    typed = requests.get(f"{fed_hub.issuer}/federation/list",
                         params={"entity_type": "openid_provider"}, timeout=5).json()
    assert rp.id not in typed

    # Someone trusting the hub as anchor resolves the member, with the hub's policy applied.
    resolver = TrustChainResolver(trust_anchors={fed_hub.issuer: _hub_jwks(fed_hub)}, fetch=_get,
                                  allow_http_loopback=True)
    chain = resolver.resolve(rp.id)
    assert chain.trust_anchor_id == fed_hub.issuer
    assert chain.metadata_for("openid_relying_party")["scope"] == "openid"

    assert authority.remove(rp.id)
    gone = requests.get(f"{fed_hub.issuer}/federation/fetch", params={"sub": rp.id}, timeout=5)
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"


def test_fetch_and_list_refuse_bad_requests(fed_hub: RunningHub) -> None:
    for params, status, error in [({}, 400, "invalid_request"),
                                  ({"sub": "not a url"}, 400, "invalid_request"),
                                  ({"sub": fed_hub.issuer}, 400, "invalid_request")]:
        resp = requests.get(f"{fed_hub.issuer}/federation/fetch", params=params, timeout=5)
        assert (resp.status_code, resp.json()["error"]) == (status, error)
    resp = requests.get(f"{fed_hub.issuer}/federation/list", params={"trust_marked": "true"}, timeout=5)
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_parameter"


def test_trust_mark_status_follows_revocation(fed_hub: RunningHub, net: Network) -> None:
    authority = FederationAuthority(service(fed_hub.hub))
    rp = new_network(net, "marked")
    token = authority.issue_trust_mark(rp.id, TYPE)
    config = parse_entity_statement(requests.get(
        f"{fed_hub.issuer}/.well-known/openid-federation", timeout=5).text)
    assert config.trust_mark_issuers[TYPE] == [fed_hub.issuer]

    def status() -> str:
        resp = requests.post(f"{fed_hub.issuer}/federation/trust-mark-status",
                             data={"trust_mark": token}, timeout=5)
        assert resp.headers["Content-Type"].startswith(TRUST_MARK_STATUS_RESPONSE_MEDIA_TYPE)
        return parse_trust_mark_status_response(resp.text, issuer=fed_hub.issuer,
                                                issuer_jwks=_hub_jwks(fed_hub), trust_mark=token,
                                                now=int(time.time()))

    assert status() == "active"
    assert authority.revoke_trust_marks(rp.id, TYPE) == 1
    assert status() == "revoked"
    unknown = requests.post(f"{fed_hub.issuer}/federation/trust-mark-status",
                            data={"trust_mark": token[:-4] + "AAAA"}, timeout=5)
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"


def test_resolve_endpoint_answers_for_trusted_anchors_only(fed_hub: RunningHub, net: Network) -> None:
    rp = new_network(net, "resolved")
    anchor = net.anchor  # type: ignore[attr-defined]
    resp = requests.get(f"{fed_hub.issuer}/federation/resolve",
                        params={"sub": rp.id, "trust_anchor": anchor.id}, timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith(RESOLVE_RESPONSE_MEDIA_TYPE)
    answer = parse_resolve_response(resp.text, issuer_jwks=_hub_jwks(fed_hub), now=int(time.time()),
                                    issuer=fed_hub.issuer)
    assert answer.sub == rp.id and "openid_relying_party" in answer.metadata
    assert len(answer.trust_chain) == 4  # rp, regional's statement, anchor's statement, anchor
    refused = requests.get(f"{fed_hub.issuer}/federation/resolve",
                           params={"sub": rp.id, "trust_anchor": "https://unknown.example"}, timeout=10)
    assert refused.status_code == 404 and refused.json()["error"] == "invalid_trust_anchor"
