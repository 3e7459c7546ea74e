"""RFC 7591 registration with initial access tokens, RFC 7592 management, strict metadata."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from hub.persistence.models.clients import ClientRecord
from hub.protocol.registration import issue_initial_token
from tests.flows.conftest import Browser, RelyingParty, RunningHub

GOOD: dict[str, Any] = {
    "client_name": "Nordic Doctors", "redirect_uris": ["https://nordic.example/cb"],
    "post_logout_redirect_uris": ["https://nordic.example/bye"],
    "logo_uri": "https://nordic.example/logo.png", "policy_uri": "https://nordic.example/privacy",
    "tos_uri": "https://nordic.example/terms", "contacts": ["ops@nordic.example"],
    "backchannel_logout_uri": "https://nordic.example/bcl", "backchannel_logout_session_required": True,
}


def register(hub: RunningHub, body: Any, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{hub.issuer}/register", json=body, headers=headers, timeout=5)


def approve(hub: RunningHub, client_id: str) -> None:
    """What the admin console's Approve button does."""
    from hub.admin.clients import change_status

    change_status(hub.hub, client_id, "active", actor="admin:test", reason="reviewed", address="127.0.0.1")


def test_discovery_names_the_registration_endpoint(running_hub: RunningHub) -> None:
    assert running_hub.metadata()["registration_endpoint"] == f"{running_hub.issuer}/register"


def test_register_manage_and_delete(running_hub: RunningHub) -> None:
    token = issue_initial_token(running_hub.hub, label="nordic")
    r = register(running_hub, GOOD, token)
    assert r.status_code == 201, r.text
    reg = r.json()
    assert reg["status"] == "pending" and reg["client_secret"] and reg["registration_access_token"]
    assert reg["registration_client_uri"] == f"{running_hub.issuer}/register/{reg['client_id']}"
    assert register(running_hub, GOOD, token).status_code == 401  # single use
    # Pending: the network cannot sign doctors in yet.
    rp = RelyingParty(running_hub, {**reg, "redirect_uris": GOOD["redirect_uris"]})
    url, _ = rp.authorization_url()
    assert "not yet approved" in Browser(running_hub).get(url).text
    with running_hub.hub.db.session() as s:
        s.get(ClientRecord, reg["client_id"]).status = "active"
    running_hub.hub.clients.forget(reg["client_id"])
    assert rp.sign_in(Browser(running_hub), running_hub.doctor().email)["id_token"]

    uri = reg["registration_client_uri"]
    auth = {"Authorization": f"Bearer {reg['registration_access_token']}"}
    got = requests.get(uri, headers=auth, timeout=5)
    assert got.status_code == 200 and got.json()["client_name"] == "Nordic Doctors"
    # RFC 7592 §3: the client information response names the registration access token.
    assert got.json()["registration_access_token"] == reg["registration_access_token"]
    assert "client_secret" not in got.json()
    assert requests.get(uri, headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401
    put = requests.put(uri, headers=auth, json={**GOOD, "client_id": reg["client_id"],
                                                "client_name": "Nordic Doctors Forum"}, timeout=5)
    assert put.status_code == 200 and put.json()["client_name"] == "Nordic Doctors Forum"
    assert put.json()["status"] == "pending"  # a new name is reviewed again before use
    assert put.json()["registration_access_token"] == reg["registration_access_token"]
    approve(running_hub, reg["client_id"])
    bad = requests.put(uri, headers=auth, json={**GOOD, "client_id": "other"}, timeout=5)
    # RFC 7592 §2.2: the body names the client it updates (Authlib: invalid_request).
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
    rotated = requests.post(f"{uri}/secret", headers=auth, timeout=5).json()["client_secret"]
    assert rotated != reg["client_secret"]
    tok = requests.post(f"{running_hub.issuer}/token", data={"grant_type": "client_credentials"},
                        auth=(reg["client_id"], reg["client_secret"]), timeout=5)
    assert tok.status_code == 401
    tok = requests.post(f"{running_hub.issuer}/token", data={"grant_type": "client_credentials"},
                        auth=(reg["client_id"], rotated), timeout=5)
    assert tok.status_code in (200, 400)  # authenticated (the grant type may be unregistered)
    assert requests.delete(uri, headers=auth, timeout=5).status_code == 204
    assert requests.get(uri, headers=auth, timeout=5).status_code == 401


def test_registration_needs_a_valid_initial_token(running_hub: RunningHub) -> None:
    assert register(running_hub, GOOD, None).status_code == 401
    assert register(running_hub, GOOD, "made-up").json()["error"] == "invalid_token"


@pytest.mark.parametrize("change,error", [
    ({"redirect_uris": ["http://nordic.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://nordic.example/cb#frag"]}, "invalid_redirect_uri"),
    ({"redirect_uris": []}, "invalid_redirect_uri"),
    ({"logo_uri": "http://127.0.0.1/logo.png"}, "invalid_client_metadata"),
    ({"policy_uri": "javascript:alert(1)"}, "invalid_client_metadata"),
    ({"contacts": "ops@nordic.example"}, "invalid_client_metadata"),
    ({"contacts": ["not an email"]}, "invalid_client_metadata"),
    ({"backchannel_logout_uri": "http://nordic.example/bcl"}, "invalid_client_metadata"),
    ({"backchannel_logout_session_required": "yes"}, "invalid_client_metadata"),
    ({"post_logout_redirect_uris": ["https://nordic.example/bye#x"]}, "invalid_client_metadata"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
    ({"sector_identifier_uri": "http://127.0.0.1:9/sector.json"}, "invalid_client_metadata"),
])
def test_bad_metadata_gets_rfc7591_errors(running_hub: RunningHub, change: dict[str, Any],
                                          error: str) -> None:
    token = issue_initial_token(running_hub.hub)
    r = register(running_hub, {**GOOD, **change}, token)
    assert r.status_code == 400 and r.json()["error"] == error, r.text
    assert r.json()["error_description"]
    assert register(running_hub, GOOD, token).status_code == 201  # a refusal spends no use


def test_body_must_be_a_json_object(running_hub: RunningHub) -> None:
    token = issue_initial_token(running_hub.hub)
    r = requests.post(f"{running_hub.issuer}/register", data="[1]", timeout=5,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert r.json()["error"] == "invalid_client_metadata"
