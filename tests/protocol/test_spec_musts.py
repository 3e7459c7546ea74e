"""MUSTs of RFC 9700, RFC 7591 and RFC 7592 that no other test held (docs/security.md lists
every MUST with the test that holds it)."""

from __future__ import annotations

from typing import Any

import requests

from hub.models.clients import ClientRecord
from tests.flows.conftest import Browser, RelyingParty
from tests.protocol.conftest import Credentials


def test_the_redirect_after_the_password_post_is_never_a_307(credentials: Credentials) -> None:
    """RFC 9700 §4.12: a 307 would make the browser re-post the doctor's password to the
    relying party's redirect URI."""
    hub = credentials.hub
    doctor = hub.doctor()
    rp = RelyingParty(hub, credentials.client)
    browser = Browser(hub)
    page = browser.get(rp.authorization_url()[0])
    answer = browser.login(page, doctor.email)
    if 'action="/consent"' in answer.text:
        answer = browser.consent(answer)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(credentials.client["redirect_uris"][0] + "?code=")


def test_userinfo_refuses_an_access_token_in_the_query(credentials: Credentials) -> None:
    """RFC 9700 §4.3.2: access tokens never travel in a URI (they end up in logs and Referer)."""
    url = f"{credentials.hub.issuer}/userinfo"
    resp = requests.get(url, params={"access_token": credentials.access_token}, timeout=5)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="curbside"'


def _register(creds: Credentials, **metadata: Any) -> dict[str, Any]:
    return creds.register(**metadata)


def test_registration_ignores_unknown_metadata_and_returns_all_it_registered(credentials: Credentials) -> None:
    """RFC 7591 §2: metadata the server does not understand is ignored; §3.2.1: the answer
    carries every registered field, including the ones the server provisioned."""
    reg = _register(credentials, software_color="green", client_name="Forum")
    assert "software_color" not in reg
    assert reg["client_name"] == "Forum"
    assert reg["grant_types"] == ["authorization_code", "refresh_token"]
    assert reg["response_types"] == ["code"]
    assert reg["token_endpoint_auth_method"] == "client_secret_basic"
    assert reg["subject_type"] == "pairwise" and reg["id_token_signed_response_alg"] == "RS256"
    assert reg["client_secret"] and reg["client_secret_expires_at"] == 0
    assert isinstance(reg["client_id_issued_at"], int)


def test_an_update_clears_omitted_fields_and_cannot_set_the_secret(credentials: Credentials) -> None:
    """RFC 7592 §2.2: omitted fields are treated as empty, and the client cannot overwrite
    its secret with a value of its own choosing."""
    hub = credentials.hub
    reg = _register(credentials, logo_uri="https://dcr.example/logo.png", grant_types=["client_credentials"],
                    redirect_uris=[])
    with hub.hub.db.session() as s:
        s.get(ClientRecord, reg["client_id"]).status = "active"
    hub.hub.clients.forget(reg["client_id"])
    auth = {"Authorization": f"Bearer {reg['registration_access_token']}"}
    put = requests.put(reg["registration_client_uri"], headers=auth, timeout=5, json={
        "client_id": reg["client_id"], "grant_types": ["client_credentials"], "client_secret": "chosen-by-me"})
    assert put.status_code == 200, put.text
    assert "logo_uri" not in requests.get(reg["registration_client_uri"], headers=auth, timeout=5).json()
    token = f"{hub.issuer}/token"
    chosen = requests.post(token, data={"grant_type": "client_credentials"},
                           auth=(reg["client_id"], "chosen-by-me"), timeout=5)
    assert chosen.status_code == 401
    issued = requests.post(token, data={"grant_type": "client_credentials"},
                           auth=(reg["client_id"], reg["client_secret"]), timeout=5)
    assert issued.status_code == 200 and issued.json()["token_type"] == "Bearer"

