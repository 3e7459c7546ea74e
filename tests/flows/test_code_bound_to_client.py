"""Found in review (2026-12): an authorization code presented by another client was
consumed, so any client that learnt a code could destroy it before the rightful client
redeemed it (or, once redeemed, revoke the rightful client's tokens by "replaying" it).
RFC 6749 §4.1.3 / §10.5: the code is bound to its client; another client's attempt is
refused with invalid_grant and changes nothing."""

from __future__ import annotations

from typing import Any

import requests

from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params


def _redeem(rp: RelyingParty, code: str, *, creds: dict[str, Any] | None = None) -> requests.Response:
    """A token request for ``code`` with ``rp``'s redirect URI and PKCE verifier, sent with
    the credentials of ``creds`` (another client) or of ``rp``."""
    creds = creds or rp.creds
    return requests.post(rp.meta["token_endpoint"], timeout=5,
                         auth=(creds["client_id"], creds["client_secret"]),
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": rp.creds["redirect_uris"][0],
                               "code_verifier": rp.verifier})


def test_another_clients_attempt_neither_burns_nor_revokes_a_code(running_hub: RunningHub,
                                                                 browser: Browser) -> None:
    rightful = RelyingParty(running_hub, running_hub.client(), scope="openid offline_access")
    other = running_hub.client(redirect_uris=[rightful.creds["redirect_uris"][0]])
    url, _ = rightful.authorization_url()
    params = callback_params(browser.through(browser.get(url), running_hub.doctor().email))

    stolen = _redeem(rightful, params["code"], creds=other)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    # The rightful client still redeems it ...
    tokens = rightful.exchange(params)
    assert rightful.validate_id_token(tokens["id_token"])["sub"]
    # ... and another client presenting the used code revokes nothing.
    again = _redeem(rightful, params["code"], creds=other)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    ui = requests.get(rightful.meta["userinfo_endpoint"], timeout=5,
                      headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert ui.status_code == 200
    # The rightful client's own replay still revokes what the code gave (RFC 6749 §4.1.2).
    replay = _redeem(rightful, params["code"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    ui = requests.get(rightful.meta["userinfo_endpoint"], timeout=5,
                      headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert ui.status_code == 401
