"""Attacks from the 2026-12 security review, each through a real socket (docs/security.md,
"Found in review (2026-12)")."""

from __future__ import annotations

import base64

import requests

from hub.admin.clients import change_status
from tests.flows.conftest import Browser, RelyingParty, RunningHub


def _userinfo(rp: RelyingParty, access_token: str) -> requests.Response:
    return requests.get(rp.meta["userinfo_endpoint"],
                        headers={"Authorization": f"Bearer {access_token}"}, timeout=5)


def test_a_suspended_networks_access_tokens_stop_reading_userinfo(running_hub: RunningHub,
                                                                   browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client())
    token = rp.sign_in(browser, running_hub.doctor().email)
    assert _userinfo(rp, token["access_token"]).status_code == 200
    change_status(running_hub.hub, rp.creds["client_id"], "suspended", actor="admin:test",
                  reason="data misuse", address="127.0.0.1")
    after = _userinfo(rp, token["access_token"])
    assert after.status_code == 401 and after.json()["error"] == "invalid_token"


def test_refresh_cannot_widen_the_granted_scope(running_hub: RunningHub, browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid offline_access")
    token = rp.sign_in(browser, running_hub.doctor().email)
    r = requests.post(rp.meta["token_endpoint"], data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "scope": "openid offline_access email profile"},
        auth=(rp.creds["client_id"], rp.creds["client_secret"]), timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text


def test_two_client_authentication_methods_in_one_request_are_refused(running_hub: RunningHub) -> None:
    a, b = running_hub.client(), running_hub.client()
    meta = running_hub.metadata()
    r = requests.post(meta["token_endpoint"], data={
        "grant_type": "client_credentials", "client_id": b["client_id"],
        "client_secret": b["client_secret"]},
        auth=(a["client_id"], a["client_secret"]), timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
    assert "access_token" not in r.json()


def test_a_feed_cursor_with_an_id_past_the_database_is_a_first_page_not_a_500(
        running_hub: RunningHub, browser: Browser) -> None:
    RelyingParty(running_hub, running_hub.client()).sign_in(browser, running_hub.doctor().email)
    for ident in ("9" * 30, "-" + "9" * 30, str(2**31)):
        cursor = base64.urlsafe_b64encode(f"2026-12-01T00:00:00+00:00|{ident}".encode()).decode()
        api = browser.get(f"{running_hub.issuer}/api/feed?before={cursor}")
        assert api.status_code == 200, (ident, api.text[:200])
        assert api.json()["version"].startswith("https://jsonfeed.org/version/")
        page = browser.get(f"{running_hub.issuer}/feed?before={cursor}")
        assert page.status_code == 200, (ident, page.text[:200])
