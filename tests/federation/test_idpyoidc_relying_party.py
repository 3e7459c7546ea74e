"""Automatic registration (OpenID Federation 1.0 section 12.1) with a relying party written
by others: idpyoidc (the IdentityPython OpenID Connect library, from PyPI) discovers the hub
over its socket, signs the request object, authenticates at the token endpoint with
private_key_jwt and verifies the ID token and userinfo itself. The federation (anchor,
intermediate, the network's entity configuration) is the test's own; no package implements
the relying party's side of a federation to the final specification."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptojwt.jwk.jwk import key_from_jwk_dict
from cryptojwt.key_jar import KeyJar
from idpyoidc.client.oauth2.stand_alone_client import StandAloneClient
from idpyoidc.client.request_object import construct_request_parameter

from tests.flows.conftest import Browser, RunningHub
from tests.flows.federation_net import Member, fed_hub, net, new_network

__all__ = ["fed_hub", "net"]  # the fixtures


def _client(hub: RunningHub, rp: Member) -> StandAloneClient:
    assert rp.oauth_key is not None
    key = key_from_jwk_dict({**rp.oauth_key.as_dict(private=True), "use": "sig"})
    keyjar = KeyJar()
    keyjar.add_keys("", [key])
    md = rp.metadata["openid_relying_party"]
    client = StandAloneClient(keyjar=keyjar, config={
        "client_id": rp.id, "client_type": "oidc", "base_url": rp.id, "issuer": hub.issuer,
        "client_authn_methods": ["private_key_jwt"],
        "redirect_uris": md["redirect_uris"],
        "preference": {"token_endpoint_auth_methods_supported": ["private_key_jwt"],
                       "scopes_supported": ["openid", "profile"], "response_types_supported": ["code"],
                       "request_object_signing_alg_values_supported": ["RS256"],
                       "token_endpoint_auth_signing_alg_values_supported": ["RS256"]},
        "add_ons": {"pkce": {"function": "idpyoidc.client.oauth2.add_on.pkce.add_support",
                             "kwargs": {"code_challenge_length": 64, "code_challenge_method": "S256"}}}})
    client.do_provider_info()  # discovery over the hub's socket
    client.do_client_registration()  # none: the client id is the entity id (section 12.1)
    return client


def _signed_authorization_url(hub: RunningHub, client: StandAloneClient) -> str:
    """idpyoidc's authorization request, its parameters moved into a request object that
    idpyoidc signs (iss, aud, jti, exp: section 12.1.1.1). Its Authorization service would
    do the move itself but names the parameter, not the provider, as the audience (idpyoidc
    5.0.0), so the same function is called with the audience given."""
    plain = client.init_authorization()
    params = {k: v[0] for k, v in parse_qs(urlsplit(plain).query).items()}
    service = client.get_service("authorization")
    request = service.msg_type(**params)
    token = construct_request_parameter(service, request, audience=hub.issuer,
                                        request_object_signing_alg="RS256")
    return client.get_context().provider_info["authorization_endpoint"] + "?" + urlencode(
        {"client_id": params["client_id"], "response_type": "code", "scope": params["scope"],
         "request": token})


def test_an_idpyoidc_relying_party_joins_by_trust_and_signs_a_doctor_in(fed_hub: RunningHub,
                                                                        net: Any) -> None:
    rp = new_network(net, "idpy")
    client = _client(fed_hub, rp)
    assert "private_key_jwt" in client.get_context().provider_info["token_endpoint_auth_methods_supported"]
    browser = Browser(fed_hub)
    doctor = fed_hub.doctor()
    done = browser.through(browser.get(_signed_authorization_url(fed_hub, client)), doctor.email)
    assert done.status_code in (302, 303), done.text[:500]
    response = {k: v[0] for k, v in parse_qs(urlsplit(done.headers["Location"]).query).items()}
    result = client.finalize(response)
    assert "error" not in result, result
    assert result["id_token"]["aud"] == [rp.id] and result["id_token"]["iss"] == fed_hub.issuer
    assert result["userinfo"]["sub"] == result["id_token"]["sub"]
    assert fed_hub.hub.clients.get(rp.id) is not None  # registered with no admin step
