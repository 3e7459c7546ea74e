"""MUSTs of RFC 9700, RFC 7591 and RFC 7592 that no other test held (docs/security.md lists
every MUST with the test that holds it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from hub import create_app
from hub.persistence.models.clients import ClientRecord
from hub.settings import Settings, SettingsError
from tests.flows.conftest import (
    Browser,
    RelyingParty,
    RunningHub,
    _Late,
    callback_params,
    make_settings,
)
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
    chosen = {"client_id": reg["client_id"], "grant_types": ["client_credentials"], "client_secret": "chosen-by-me"}
    put = requests.put(reg["registration_client_uri"], headers=auth, timeout=5, json=chosen)
    # §2.2: a client_secret in the body MUST match the one issued; a request that does not is refused.
    assert put.status_code == 400 and put.json()["error"] == "invalid_request", put.text
    assert requests.get(reg["registration_client_uri"], headers=auth, timeout=5).json()["logo_uri"]
    put = requests.put(reg["registration_client_uri"], headers=auth, timeout=5,
                       json={**chosen, "client_secret": reg["client_secret"]})
    assert put.status_code == 200, put.text
    assert "logo_uri" not in requests.get(reg["registration_client_uri"], headers=auth, timeout=5).json()
    with hub.hub.db.session() as s:  # a changed registration goes back to review: approve it again
        s.get(ClientRecord, reg["client_id"]).status = "active"
    hub.hub.clients.forget(reg["client_id"])
    token = f"{hub.issuer}/token"
    chosen = requests.post(token, data={"grant_type": "client_credentials"},
                           auth=(reg["client_id"], "chosen-by-me"), timeout=5)
    assert chosen.status_code == 401
    issued = requests.post(token, data={"grant_type": "client_credentials"},
                           auth=(reg["client_id"], reg["client_secret"]), timeout=5)
    assert issued.status_code == 200 and issued.json()["token_type"] == "Bearer"



def _code(creds: Credentials) -> tuple[RelyingParty, dict[str, str]]:
    hub = creds.hub
    rp = RelyingParty(hub, creds.client)
    browser = Browser(hub)
    params = callback_params(browser.through(browser.get(rp.authorization_url()[0]), hub.doctor().email))
    return rp, params


def test_a_code_is_redeemed_only_by_its_client_at_its_redirect_uri(credentials: Credentials) -> None:
    """OIDC Core §3.1.3.2: the code was issued to the authenticated client, and redirect_uri
    is identical to the one of the authorization request."""
    hub = credentials.hub
    other = hub.client(client_name="Another network", redirect_uris=credentials.client["redirect_uris"])
    for client, redirect_uri in ((other, credentials.client["redirect_uris"][0]),
                                 (credentials.client, "https://network.example/other")):
        rp, params = _code(credentials)
        resp = requests.post(f"{hub.issuer}/token", timeout=5, auth=(client["client_id"], client["client_secret"]),
                             data={"grant_type": "authorization_code", "code": params["code"],
                                   "redirect_uri": redirect_uri, "code_verifier": rp.verifier})
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant", resp.text


def test_redirect_uris_on_several_hosts_need_a_sector_identifier(credentials: Credentials) -> None:
    """OIDC Core §8.1: pairwise subjects need one sector; several redirect hosts must name it."""
    resp = requests.post(f"{credentials.hub.issuer}/register", timeout=5,
                         headers={"Authorization": f"Bearer {credentials.initial_access_token}"},
                         json={"redirect_uris": ["https://a.example/cb", "https://b.example/cb"]})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_client_metadata"
    assert "sector_identifier_uri" in resp.json()["error_description"]


def test_display_and_locale_requests_are_accepted(credentials: Credentials) -> None:
    """OIDC Core §15.1: every OP supports display, ui_locales and claims_locales (the hub
    answers in English, the one locale it has)."""
    hub = credentials.hub
    rp = RelyingParty(hub, credentials.client)
    url, _ = rp.authorization_url(display="popup", ui_locales="nl-NL en", claims_locales="nl")
    page = Browser(hub).get(url)
    assert page.status_code == 200 and 'action="/login"' in page.text


def test_the_issuer_must_be_https() -> None:
    """OIDC Core §16.17, RFC 7591 §5, RFC 7592 §5: every endpoint, registration included,
    is reached over TLS; the hub refuses to start with a plain-http issuer."""
    with pytest.raises(SettingsError, match="https"):
        Settings.from_env({}, issuer="http://id.example.org", database_url="sqlite://", secret_key="k" * 48)


def test_offline_access_is_asked_for_on_the_consent_page(credentials: Credentials) -> None:
    """OIDC Core §11: offline access needs the doctor's consent. The hub asks for it itself
    (the condition §11 allows instead of prompt=consent) whenever no earlier consent of the
    doctor covered offline_access, and only then issues a refresh token."""
    hub = credentials.hub
    doctor = hub.doctor()
    browser = Browser(hub)
    online = RelyingParty(hub, credentials.client, scope="openid profile")
    assert "refresh_token" not in online.sign_in(browser, doctor.email)
    offline = RelyingParty(hub, credentials.client, scope="openid profile offline_access")
    page = browser.get(offline.authorization_url()[0])
    assert 'action="/consent"' in page.text
    assert "Continued access while you are away" in page.text
    assert offline.exchange(callback_params(browser.consent(page)))["refresh_token"]


@pytest.fixture(scope="module")
def hub_with_refresh_id_tokens(backend: Any, database: Any,
                               tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    app = create_app(make_settings(backend, tmp_path_factory.mktemp("refresh-id"), issuer=issuer,
                                   id_token_on_refresh=True),
                     store_prefix=f"rid{backend.redis_prefix}:")
    app.extensions["curbside"].keys.ensure()
    late.app = app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield RunningHub(issuer, app, app.extensions["curbside"])
    server.shutdown()
    app.extensions["curbside"].db.engine.dispose()  # the shared PostgreSQL has few connections


def test_an_id_token_from_a_refresh_keeps_the_sign_in_it_stands_for(
        hub_with_refresh_id_tokens: RunningHub) -> None:
    """OIDC Core §12.2: same iss, sub and aud, the original auth_time, a new iat, no nonce."""
    hub = hub_with_refresh_id_tokens
    doctor = hub.doctor()
    rp = RelyingParty(hub, hub.client(), scope="openid profile offline_access")
    first = rp.sign_in(Browser(hub), doctor.email)
    signed_in = rp.validate_id_token(first["id_token"])
    time.sleep(1.1)  # iat has one-second resolution
    refreshed = rp.session.refresh_token(rp.meta["token_endpoint"], refresh_token=first["refresh_token"])
    again = rp.validate_id_token(refreshed["id_token"], nonce=None)
    for claim in ("iss", "sub", "aud", "auth_time"):
        assert again[claim] == signed_in[claim], claim
    assert again["iat"] > signed_in["iat"]
    assert "nonce" not in again
