"""OpenID Federation 1.0 explicit registration (section 12.2) through a real socket: the
network posts its entity configuration and gets the signed registration response naming
the trust anchor; then it signs a doctor in as a registered client."""

from __future__ import annotations

import secrets

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from federation import (
    ENTITY_STATEMENT_MEDIA_TYPE,
    EXPLICIT_REGISTRATION_RESPONSE_MEDIA_TYPE,
    parse_entity_statement,
)
from hub.persistence.models.federation import FederationRegistration
from tests.flows.conftest import Browser, RunningHub, callback_params
from tests.flows.federation_net import Network, PartnerBackEnd, fed_hub, net, new_network

__all__ = ["fed_hub", "net"]  # the fixtures


def _register(hub: RunningHub, body: str, content_type: str = ENTITY_STATEMENT_MEDIA_TYPE) -> requests.Response:
    return requests.post(f"{hub.issuer}/federation/register", data=body,
                         headers={"Content-Type": content_type}, timeout=10)


def test_explicit_registration_answers_with_the_signed_response(fed_hub: RunningHub, net: Network) -> None:
    rp = new_network(net, "explicit")
    resp = _register(fed_hub, net.configuration(rp, aud=fed_hub.issuer))
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith(EXPLICIT_REGISTRATION_RESPONSE_MEDIA_TYPE)
    hub_config = parse_entity_statement(requests.get(
        f"{fed_hub.issuer}/.well-known/openid-federation", timeout=5).text)
    # Signed with the hub's federation key, typed as section 12.2.3 says.
    decoded = jwt.decode(resp.text, KeySet.import_key_set(hub_config.jwks), algorithms=["ES256"])
    assert decoded.header["typ"] == "explicit-registration-response+jwt"
    answer = decoded.claims
    assert answer["iss"] == fed_hub.issuer and answer["sub"] == rp.id and answer["aud"] == rp.id
    assert answer["trust_anchor"] == net.anchor.id  # type: ignore[attr-defined]
    assert answer["authority_hints"] == [net.intermediate.id]  # type: ignore[attr-defined]
    registered = answer["metadata"]["openid_relying_party"]
    assert registered["client_id"] == rp.id
    assert registered["token_endpoint_auth_method"] == "private_key_jwt"
    with fed_hub.hub.db.session() as s:
        reg = s.get(FederationRegistration, rp.id)
        assert reg.kind == "explicit"
        assert int(reg.chain_expires_at.timestamp()) == answer["exp"]  # never beyond the chain

    # Registered: it signs a doctor in (a request object is still accepted).
    partner = PartnerBackEnd(fed_hub, rp)
    browser = Browser(fed_hub)
    done = browser.through(browser.get(partner.authorization_url()), fed_hub.doctor().email)
    assert "id_token" in partner.token(callback_params(done)["code"])


def test_explicit_registration_refusals_are_federation_errors(fed_hub: RunningHub, net: Network) -> None:
    rp = new_network(net, "refused")
    cases = [
        (net.configuration(rp), ENTITY_STATEMENT_MEDIA_TYPE, "invalid_request"),  # no aud
        (net.configuration(rp, aud="https://other.example"), ENTITY_STATEMENT_MEDIA_TYPE,
         "invalid_request"),
        (net.configuration(rp, aud=fed_hub.issuer), "application/json", "invalid_request"),
        ("not a jwt", ENTITY_STATEMENT_MEDIA_TYPE, "invalid_request"),
    ]
    rogue = net.authority(f"rogue-{secrets.token_hex(3)}")
    outsider = new_network(net, "outsider", superior=rogue)
    cases.append((net.configuration(outsider, aud=fed_hub.issuer), ENTITY_STATEMENT_MEDIA_TYPE,
                  "invalid_trust_anchor"))
    for body, content_type, error in cases:
        resp = _register(fed_hub, body, content_type)
        assert 400 <= resp.status_code < 500, (error, resp.status_code, resp.text)
        assert resp.json()["error"] == error and resp.json()["error_description"]
    assert _register(fed_hub, "x" * 70_000).status_code == 413
