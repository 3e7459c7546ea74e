"""Registration on Authlib's RFC 7591/7592 endpoints: an independent client library
registers and signs in, the endpoint serves a bare werkzeug app (no Flask), and the
answers Authlib's endpoints give where the hub used to be lenient."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request

from hub.protocol.registration import issue_initial_token, registration_endpoint
from tests.flows.conftest import Browser, RunningHub, callback_params

GOOD: dict[str, Any] = {
    "client_name": "Alpine Doctors", "redirect_uris": ["https://alpine.example/cb"],
    "post_logout_redirect_uris": ["https://alpine.example/bye"], "contacts": ["ops@alpine.example"],
}
# RFC 6749 §5.2: the characters error_description may hold.
ERROR_TEXT = re.compile(r"[\x20-\x21\x23-\x5B\x5D-\x7E]*")


def approve(hub: RunningHub, client_id: str) -> None:
    from hub.admin.clients import change_status

    change_status(hub.hub, client_id, "active", actor="admin:test", reason="reviewed", address="127.0.0.1")


def test_a_pyoidc_client_registers_reads_its_registration_and_signs_a_doctor_in(
        running_hub: RunningHub, browser: Browser) -> None:
    """pyoidc (``oic``) registers as its docs show (OIDC Registration 1.0 §3), with the
    initial access token on its HTTP session: pyoidc base64-encodes a token it is handed."""
    from oic import rndstr
    from oic.oic import Client
    from oic.oic.message import AuthorizationResponse
    from oic.utils.authn.client import CLIENT_AUTHN_METHOD

    client = Client(client_authn_method=CLIENT_AUTHN_METHOD,
                    config={"code_challenge": {"method": "S256", "length": 64}})
    client.provider_config(running_hub.issuer)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {issue_initial_token(running_hub.hub)}"
    client.settings.requests_session = session
    reg = client.register(client.registration_endpoint, **GOOD)  # verified as RegistrationResponse
    assert reg["status"] == "pending" and client.client_id == reg["client_id"] and client.client_secret
    assert reg["registration_client_uri"] == f"{running_hub.issuer}/register/{client.client_id}"
    session.headers.pop("Authorization")
    read = client.registration_read()  # RFC 7592 §2.1 with the registration access token
    assert read["client_name"] == "Alpine Doctors" and "client_secret" not in read
    assert read["registration_access_token"] == client.registration_access_token

    approve(running_hub, client.client_id)
    client.redirect_uris = GOOD["redirect_uris"]
    state, nonce = rndstr(32), rndstr(32)
    pkce, verifier = client.add_code_challenge()
    url = client.construct_AuthorizationRequest(request_args={
        "client_id": client.client_id, "response_type": "code", "redirect_uri": client.redirect_uris[0],
        "scope": ["openid", "email"], "state": state, "nonce": nonce, **pkce,
    }).request(client.authorization_endpoint)
    callback = browser.through(browser.get(url), running_hub.doctor().email)
    assert callback_params(callback)["iss"] == running_hub.issuer
    answer = client.parse_response(AuthorizationResponse, sformat="urlencoded",
                                   info=urlsplit(callback.headers["Location"]).query)
    tokens = client.do_access_token_request(state=state, authn_method="client_secret_basic", request_args={
        "code": answer["code"], "code_verifier": verifier, "redirect_uri": client.redirect_uris[0]})
    assert tokens["id_token"]["nonce"] == nonce  # pyoidc verified it with the registered client


@pytest.fixture
def bare_app(running_hub: RunningHub) -> Iterator[str]:
    """``registration_endpoint`` behind werkzeug's own router, as a WSGI front door mounts it."""
    urls = Map([Rule("/register", endpoint=None), Rule("/register/<client_id>", endpoint=None),
                Rule("/register/<client_id>/secret", endpoint="secret")])

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        endpoint, args = urls.bind_to_environ(environ).match()
        return registration_endpoint(running_hub.hub, request, args.get("client_id"), endpoint)(
            environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_the_endpoint_serves_a_wsgi_app_without_flask(running_hub: RunningHub, bare_app: str) -> None:
    token = issue_initial_token(running_hub.hub)
    assert requests.post(f"{bare_app}/register", json=GOOD, timeout=10).status_code == 401
    r = requests.post(f"{bare_app}/register", json=GOOD, timeout=10, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store", r.text
    reg = r.json()
    uri = bare_app + urlsplit(reg["registration_client_uri"]).path
    auth = {"Authorization": f"Bearer {reg['registration_access_token']}"}
    assert requests.get(uri, headers=auth, timeout=10).json()["client_name"] == "Alpine Doctors"
    put = requests.put(uri, headers=auth, timeout=10,
                       json={**GOOD, "client_id": reg["client_id"], "contacts": ["it@alpine.example"]})
    assert put.status_code == 200 and put.json()["contacts"] == ["it@alpine.example"]
    assert put.json()["status"] == "pending"
    rotated = requests.post(f"{uri}/secret", headers=auth, timeout=10)
    assert rotated.status_code == 200 and rotated.json()["client_secret"] != reg["client_secret"]
    wrong = requests.post(uri, headers=auth, timeout=10)  # POST is not an RFC 7592 method
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, PUT, DELETE"
    assert requests.delete(uri, headers=auth, timeout=10).status_code == 204
    assert requests.get(uri, headers=auth, timeout=10).status_code == 401


def test_a_public_client_is_issued_no_secret(running_hub: RunningHub) -> None:
    token = issue_initial_token(running_hub.hub)
    r = requests.post(f"{running_hub.issuer}/register", timeout=10, headers={"Authorization": f"Bearer {token}"},
                      json={**GOOD, "token_endpoint_auth_method": "none"})
    assert r.status_code == 201, r.text
    reg = r.json()
    # RFC 7591 §3.2.1: no secret, so no expiry of one either (and never a null).
    assert "client_secret" not in reg and "client_secret_expires_at" not in reg
    assert None not in reg.values()
    rotate = requests.post(f"{reg['registration_client_uri']}/secret", timeout=10,
                           headers={"Authorization": f"Bearer {reg['registration_access_token']}"})
    assert rotate.status_code == 400 and rotate.json()["error"] == "invalid_request"


@pytest.mark.parametrize("issued", ["registration_access_token", "registration_client_uri",
                                    "client_id_issued_at", "client_secret_expires_at"])
def test_an_update_that_sends_back_what_the_hub_issued_is_refused(running_hub: RunningHub,
                                                                   issued: str) -> None:
    """RFC 7592 §2.2: the update MUST NOT include these fields (Authlib refuses it)."""
    reg = requests.post(f"{running_hub.issuer}/register", json=GOOD, timeout=10, headers={
        "Authorization": f"Bearer {issue_initial_token(running_hub.hub)}"}).json()
    auth = {"Authorization": f"Bearer {reg['registration_access_token']}"}
    put = requests.put(reg["registration_client_uri"], headers=auth, timeout=10, json={
        **GOOD, "client_id": reg["client_id"], "client_name": "Renamed", issued: reg.get(issued, 0)})
    assert put.status_code == 400 and put.json()["error"] == "invalid_request"
    assert requests.get(reg["registration_client_uri"], headers=auth, timeout=10).json()["client_name"] == \
        "Alpine Doctors"


@pytest.mark.parametrize("uri", ['https://alpine.example/"cb"', "https://alpine.example/c\u00e9",
                                 "https://alpine.example/c\\b"])
def test_error_descriptions_keep_to_the_oauth_character_set(running_hub: RunningHub, uri: str) -> None:
    """The refusal quotes the URI, but error_description may not hold quotes, backslashes or
    non-ASCII (RFC 6749 §5.2): they are replaced, and the answer is still a 400."""
    r = requests.post(f"{running_hub.issuer}/register", timeout=10, json={**GOOD, "redirect_uris": [uri]},
                      headers={"Authorization": f"Bearer {issue_initial_token(running_hub.hub)}"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_redirect_uri"
    assert ERROR_TEXT.fullmatch(r.json()["error_description"]) and "redirect_uris" in r.json()["error_description"]
