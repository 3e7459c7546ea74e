"""A second certified relying-party library, pyoidc (``oic``), used the way its docs show:
discovery, code + PKCE, ID-token verification against the JWKS, userinfo its default way
(a POST with the token in the body), refresh, and RP-initiated logout."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.flows.conftest import Browser, RunningHub, callback_params

oic = pytest.importorskip("oic")


def _client(running_hub: RunningHub, creds: dict[str, Any], auth: str) -> Any:
    from oic.oic import Client
    from oic.oic.message import RegistrationResponse
    from oic.utils.authn.client import CLIENT_AUTHN_METHOD

    client = Client(client_authn_method=CLIENT_AUTHN_METHOD,
                    config={"code_challenge": {"method": "S256", "length": 64}})
    client.provider_config(running_hub.issuer)  # verifies the metadata's issuer
    client.store_registration_info(RegistrationResponse(
        client_id=creds["client_id"], client_secret=creds["client_secret"],
        redirect_uris=creds["redirect_uris"], token_endpoint_auth_method=auth))
    client.redirect_uris = creds["redirect_uris"]
    return client


@pytest.mark.parametrize("auth", ["client_secret_basic", "client_secret_post"])
def test_a_pyoidc_relying_party_signs_a_doctor_in_and_out(running_hub: RunningHub, browser: Browser,
                                                          auth: str) -> None:
    from oic import rndstr
    from oic.oic.message import AuthorizationResponse

    doctor = running_hub.doctor(given_name="Lotte", family_name="Bakker")
    creds = running_hub.client(scope="openid profile email offline_access")
    client = _client(running_hub, creds, auth)
    state, nonce = rndstr(32), rndstr(32)
    pkce, verifier = client.add_code_challenge()
    url = client.construct_AuthorizationRequest(request_args={
        "client_id": client.client_id, "response_type": "code", "redirect_uri": client.redirect_uris[0],
        "scope": ["openid", "profile", "email", "offline_access"], "state": state, "nonce": nonce,
        **pkce}).request(client.authorization_endpoint)
    callback = browser.through(browser.get(url), doctor.email)
    assert callback_params(callback)["iss"] == running_hub.issuer
    answer = client.parse_response(AuthorizationResponse, sformat="urlencoded",
                                   info=urlsplit(callback.headers["Location"]).query)
    assert answer["state"] == state
    tokens = client.do_access_token_request(state=state, authn_method=auth, request_args={
        "code": answer["code"], "code_verifier": verifier, "redirect_uri": client.redirect_uris[0]})
    id_token = tokens["id_token"]  # pyoidc verified its signature, iss, aud and expiry
    assert id_token["nonce"] == nonce and id_token["sub"] != doctor.id
    userinfo = client.do_user_info_request(state=state).to_dict()  # POST, token in the body
    assert userinfo["sub"] == id_token["sub"] and userinfo["name"] == "Lotte Bakker"
    assert client.do_user_info_request(state=state, method="GET").to_dict() == userinfo
    refreshed = client.do_access_token_refresh(state=state, authn_method=auth)
    assert refreshed["access_token"] != tokens["access_token"]
    logout, _, _, _ = client.request_info(
        client.message_factory.get_request_type("endsession_endpoint"), method="GET", state=state,
        request_args={"id_token_hint": id_token.jwt, "state": "bye-1",
                      "post_logout_redirect_uri": "https://network.example/bye"})
    back = browser.get(logout)
    assert back.status_code == 302 and back.headers["Location"] == "https://network.example/bye?state=bye-1"
