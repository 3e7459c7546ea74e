"""Token endpoint behaviour: refresh rotation, reuse and replay detection, introspection, revocation."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from hub.domain.tokens import AccessToken
from hub.protocol.grants import USED_CODE_KIND, code_key
from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params


def _post(url: str, data: dict, auth: tuple[str, str] | None = None) -> requests.Response:
    return requests.post(url, data=data, auth=auth, timeout=5)


def _offline_rp(hub: RunningHub) -> RelyingParty:
    return RelyingParty(hub, hub.client(), scope="openid profile offline_access")


def test_refresh_rotates_and_reuse_revokes_the_grant(running_hub: RunningHub, browser: Browser) -> None:
    doctor = running_hub.doctor()
    rp = _offline_rp(running_hub)
    first = rp.sign_in(browser, doctor.email)
    creds = (rp.creds["client_id"], rp.creds["client_secret"])
    token_url = rp.meta["token_endpoint"]
    r1 = _post(token_url, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, creds)
    assert r1.status_code == 200, r1.text
    second = r1.json()
    assert second["refresh_token"] != first["refresh_token"]
    running_hub.hub.tokens.reuse_grace = 0  # make the reuse unambiguous
    try:
        time.sleep(0.05)
        reuse = _post(token_url, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, creds)
    finally:
        running_hub.hub.tokens.reuse_grace = running_hub.hub.settings.refresh_reuse_grace
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # The whole grant is dead: the successor refresh token and its access token too.
    dead = _post(token_url, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}, creds)
    assert dead.json()["error"] == "invalid_grant"
    ui = requests.get(rp.meta["userinfo_endpoint"],
                      headers={"Authorization": f"Bearer {second['access_token']}"}, timeout=5)
    assert ui.status_code == 401


def test_concurrent_refresh_within_grace_window_is_not_reuse(running_hub: RunningHub, browser: Browser) -> None:
    rp = _offline_rp(running_hub)
    first = rp.sign_in(browser, running_hub.doctor().email)
    creds = (rp.creds["client_id"], rp.creds["client_secret"])
    a = _post(rp.meta["token_endpoint"], {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, creds)
    b = _post(rp.meta["token_endpoint"], {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, creds)
    assert a.status_code == 200 and b.status_code == 200
    c = _post(rp.meta["token_endpoint"], {"grant_type": "refresh_token", "refresh_token": a.json()["refresh_token"]}, creds)
    assert c.status_code == 200


@pytest.mark.parametrize("marker", ["as written", "bare grant id (before the code's record was kept)"])
def test_code_replay_is_refused_and_revokes_issued_tokens(running_hub: RunningHub, browser: Browser,
                                                          marker: str) -> None:
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid offline_access")
    url, _ = rp.authorization_url()
    page = browser.get(url)
    page = browser.consent(browser.login(page, running_hub.doctor().email))
    params = callback_params(page)
    token = rp.exchange(params)
    if marker.startswith("bare"):  # as a hub of the previous version left it
        store, key = running_hub.hub.store, code_key(rp.creds["client_id"], params["code"])
        grant_id = json.loads(store.get(USED_CODE_KIND, key) or b"{}")["grant_id"]
        store.put(USED_CODE_KIND, key, grant_id.encode(), ttl=60)
    creds = (rp.creds["client_id"], rp.creds["client_secret"])
    replay = _post(rp.meta["token_endpoint"], {"grant_type": "authorization_code", "code": params["code"],
                                               "redirect_uri": rp.creds["redirect_uris"][0],
                                               "code_verifier": rp.verifier}, creds)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    ui = requests.get(rp.meta["userinfo_endpoint"],
                      headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5)
    assert ui.status_code == 401
    refresh = _post(rp.meta["token_endpoint"], {"grant_type": "refresh_token",
                                                "refresh_token": token["refresh_token"]}, creds)
    assert refresh.json()["error"] == "invalid_grant"


def test_client_credentials_introspection_and_revocation(running_hub: RunningHub) -> None:
    creds = running_hub.client()
    other = running_hub.client()
    meta = running_hub.metadata()
    for style in ("basic", "post"):
        sess = OAuth2Session(creds["client_id"], creds["client_secret"],
                             token_endpoint_auth_method=f"client_secret_{style}")
        tok = sess.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
        assert tok["token_type"].lower() == "bearer" and "refresh_token" not in tok and "id_token" not in tok
    auth = (creds["client_id"], creds["client_secret"])
    info = _post(meta["introspection_endpoint"], {"token": tok["access_token"]}, auth).json()
    assert info["active"] is True and info["client_id"] == creds["client_id"] and "sub" not in info
    # Another network may not learn anything about this token.
    foreign = _post(meta["introspection_endpoint"], {"token": tok["access_token"]},
                    (other["client_id"], other["client_secret"])).json()
    assert foreign == {"active": False}
    assert _post(meta["revocation_endpoint"], {"token": tok["access_token"]}, auth).status_code == 200
    assert _post(meta["introspection_endpoint"], {"token": tok["access_token"]}, auth).json() == {"active": False}
    # RFC 7009 §2.2: revoking an unknown token is not an error.
    assert _post(meta["revocation_endpoint"], {"token": "no-such-token"}, auth).status_code == 200


def test_introspection_of_user_tokens_gives_the_pairwise_subject(running_hub: RunningHub, browser: Browser) -> None:
    rp = _offline_rp(running_hub)
    token = rp.sign_in(browser, running_hub.doctor().email)
    sub = rp.validate_id_token(token["id_token"])["sub"]
    auth = (rp.creds["client_id"], rp.creds["client_secret"])
    at = _post(rp.meta["introspection_endpoint"], {"token": token["access_token"]}, auth).json()
    assert at["active"] and at["sub"] == sub and "offline_access" in at["scope"]
    rt = _post(rp.meta["introspection_endpoint"], {"token": token["refresh_token"],
                                                   "token_type_hint": "refresh_token"}, auth).json()
    assert rt["active"] and rt["sub"] == sub
    assert "token_type" not in rt  # RFC 7662 §2.2 means an access token type; a refresh token has none
    # RFC 7662 §2.1 / RFC 7009 §2.1: a hint the server does not know is ignored, not refused.
    odd = _post(rp.meta["introspection_endpoint"], {"token": token["access_token"],
                                                    "token_type_hint": "id_token"}, auth)
    assert odd.status_code == 200 and odd.json()["active"]
    gone = _post(rp.meta["revocation_endpoint"], {"token": token["refresh_token"],
                                                  "token_type_hint": "foo"}, auth)
    assert gone.status_code == 200
    assert _post(rp.meta["introspection_endpoint"], {"token": token["refresh_token"]}, auth).json() == {"active": False}
    token = rp.sign_in(browser, running_hub.doctor().email)
    _post(rp.meta["revocation_endpoint"], {"token": token["refresh_token"]}, auth)
    assert _post(rp.meta["introspection_endpoint"], {"token": token["refresh_token"]}, auth).json() == {"active": False}


def test_public_client_signs_in_with_pkce_only(running_hub: RunningHub, browser: Browser) -> None:
    creds = running_hub.client(token_endpoint_auth_method="none", grant_types=["authorization_code"])
    assert "client_secret" not in creds
    rp = RelyingParty(running_hub, creds)
    token = rp.sign_in(browser, running_hub.doctor().email)
    assert rp.validate_id_token(token["id_token"])["aud"] == creds["client_id"]


def test_es256_and_eddsa_clients_get_tokens_in_their_algorithm(running_hub: RunningHub, browser: Browser) -> None:
    doctor = running_hub.doctor()
    for alg in ("ES256", "EdDSA", "Ed25519"):
        rp = RelyingParty(running_hub, running_hub.client(id_token_signed_response_alg=alg))
        token = rp.sign_in(browser, doctor.email)
        header = __import__("joserfc").jws.extract_compact(token["id_token"].encode()).protected
        assert header["alg"] == alg
        rp.validate_id_token(token["id_token"])


def test_a_pending_client_cannot_sign_anyone_in(running_hub: RunningHub, browser: Browser) -> None:
    creds = running_hub.client(status="pending")
    rp = RelyingParty(running_hub, creds)
    url, _ = rp.authorization_url()
    page = browser.get(url)
    assert page.status_code == 400 and "not yet approved" in page.text
    try:
        OAuth2Session(creds["client_id"], creds["client_secret"]).fetch_token(
            rp.meta["token_endpoint"], grant_type="client_credentials")
        raise AssertionError("pending client got a token")
    except OAuthError as e:
        assert e.error == "invalid_client"


def test_concurrent_revocations_each_revoke_their_own_token(running_hub: RunningHub,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 7009 §2.1: the token revoked is the one the authenticated client sent and owns.
    The revocation endpoint is one object shared by the server's threads: a network that
    sends another's token (refused) while an honest one revokes its own must not make the
    honest request revoke the other token and leave its own alive. The ownership check is
    slowed down to open the window two overlapping requests have in production."""
    meta = running_hub.metadata()
    honest, victim, meddler = running_hub.client(), running_hub.client(), running_hub.client()

    def token_of(creds: dict) -> str:
        return OAuth2Session(creds["client_id"], creds["client_secret"]).fetch_token(
            meta["token_endpoint"], grant_type="client_credentials")["access_token"]

    def auth(creds: dict) -> tuple[str, str]:
        return creds["client_id"], creds["client_secret"]

    own, victims = token_of(honest), token_of(victim)
    checked = AccessToken.check_client

    def slow_check(self: AccessToken, client: object) -> bool:
        time.sleep(0.3)
        return checked(self, client)

    monkeypatch.setattr(AccessToken, "check_client", slow_check)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_post, meta["revocation_endpoint"], {"token": own}, auth(honest))
        time.sleep(0.1)
        second = pool.submit(_post, meta["revocation_endpoint"], {"token": victims}, auth(meddler))
        assert first.result().status_code == 200 and second.result().status_code == 400
    monkeypatch.undo()
    assert _post(meta["introspection_endpoint"], {"token": own}, auth(honest)).json() == {"active": False}
    assert _post(meta["introspection_endpoint"], {"token": victims}, auth(victim)).json()["active"] is True
