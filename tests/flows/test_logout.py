"""RP-Initiated Logout 1.0: exact post-logout redirect, state echoed, confirmation without a hint."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params


def test_logout_with_id_token_hint_redirects_with_state_and_ends_sso(running_hub: RunningHub, browser: Browser) -> None:
    doctor = running_hub.doctor()
    rp = RelyingParty(running_hub, running_hub.client())
    token = rp.sign_in(browser, doctor.email)
    q = urlencode({"id_token_hint": token["id_token"], "post_logout_redirect_uri": "https://network.example/bye",
                   "state": "st-1"})
    _assert_signed_out_and_back(rp, browser, browser.get(f"{rp.meta['end_session_endpoint']}?{q}"), "st-1")


def _assert_signed_out_and_back(rp: RelyingParty, browser: Browser, resp: Any, state: str) -> None:
    """Back at the registered post-logout URI with the state, and the SSO session gone."""
    assert resp.status_code == 302
    loc = urlsplit(resp.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == "https://network.example/bye"
    assert parse_qs(loc.query)["state"] == [state]
    url, _ = rp.authorization_url(prompt="none")
    assert callback_params(browser.get(url))["error"] == "login_required"


def test_unregistered_post_logout_uri_is_never_followed(running_hub: RunningHub, browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client())
    token = rp.sign_in(browser, running_hub.doctor().email)
    for uri in ("https://evil.example/bye", "https://network.example/bye/extra", "https://network.example/bye?x=1"):
        q = urlencode({"id_token_hint": token["id_token"], "post_logout_redirect_uri": uri})
        r = browser.get(f"{rp.meta['end_session_endpoint']}?{q}")
        assert "Location" not in r.headers
        assert "has not registered" in r.text  # RP-Initiated Logout §4: the doctor is told


def test_logout_without_hint_asks_for_confirmation(running_hub: RunningHub, browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client())
    rp.sign_in(browser, running_hub.doctor().email)
    page = browser.get(f"{rp.meta['end_session_endpoint']}?client_id={rp.creds['client_id']}")
    assert page.status_code == 200 and "Sign out of Curbside?" in page.text
    url, _ = rp.authorization_url(prompt="none")
    assert "code" in callback_params(browser.get(url))  # still signed in until confirmed
    done = browser.post(f"{rp.meta['end_session_endpoint']}", {**browser.hidden(page), "confirm": "yes"})
    assert done.status_code == 200 and "signed out" in done.text
    url, _ = rp.authorization_url(prompt="none")
    assert callback_params(browser.get(url))["error"] == "login_required"


def test_logout_with_client_id_offers_the_registered_return_as_a_link(running_hub: RunningHub,
                                                                     browser: Browser) -> None:
    """Without an id_token_hint the hub never redirects (RP-Initiated Logout §3), but a
    return address registered for the named client is offered to the doctor as a link."""
    rp = RelyingParty(running_hub, running_hub.client(client_name="Nordic Doctors"))
    rp.sign_in(browser, running_hub.doctor().email)
    q = urlencode({"client_id": rp.creds["client_id"], "state": "s 1",
                   "post_logout_redirect_uri": "https://network.example/bye"})
    page = browser.get(f"{rp.meta['end_session_endpoint']}?{q}")
    done = browser.post(f"{rp.meta['end_session_endpoint']}", {**browser.hidden(page), "confirm": "yes"})
    assert done.status_code == 200 and "Location" not in done.headers
    assert 'href="https://network.example/bye?state=s+1"' in done.text and "Back to Nordic Doctors" in done.text
    assert "has not registered" not in done.text
    q = urlencode({"client_id": rp.creds["client_id"], "post_logout_redirect_uri": "https://evil.example/"})
    other = browser.get(f"{rp.meta['end_session_endpoint']}?{q}")  # no session left: no confirmation
    assert "evil.example" not in other.text and "has not registered" in other.text


def test_forged_confirmation_without_csrf_is_refused(running_hub: RunningHub, browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client())
    rp.sign_in(browser, running_hub.doctor().email)
    r = browser.post(f"{rp.meta['end_session_endpoint']}", {"confirm": "yes", "csrf": "forged"})
    assert r.status_code == 400
    url, _ = rp.authorization_url(prompt="none")
    assert "code" in callback_params(browser.get(url))


def test_ending_all_sessions_of_a_doctor_kills_sso_and_tokens(running_hub: RunningHub, browser: Browser) -> None:
    doctor = running_hub.doctor()
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid offline_access")
    token = rp.sign_in(browser, doctor.email)
    import time

    time.sleep(0.01)
    running_hub.hub.end_doctor_sessions(doctor.id, reason="admin", actor="admin-1")
    url, _ = rp.authorization_url(prompt="none")
    assert callback_params(browser.get(url))["error"] == "login_required"
    import requests

    r = requests.post(rp.meta["token_endpoint"], data={"grant_type": "refresh_token",
                                                       "refresh_token": token["refresh_token"]},
                      auth=(rp.creds["client_id"], rp.creds["client_secret"]), timeout=5)
    assert r.json()["error"] == "invalid_grant"
    ui = requests.get(rp.meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"},
                      timeout=5)
    assert ui.status_code == 401
    # A new sign-in after the cut-off works again.
    time.sleep(0.01)
    assert rp.sign_in(browser, doctor.email)["access_token"]


def test_the_cut_off_ends_sessions_behind_either_cookie_format(running_hub: RunningHub) -> None:
    """Cookies name their doctor (one Store read for session and cut-off); cookies issued
    before that, without the name, still load and still die at the cut-off."""
    import time

    sessions = running_hub.hub.sessions
    doctor = running_hub.doctor()
    cookie, session = sessions.create(doctor.id, ["pwd"])
    assert cookie.startswith(f"{doctor.id}.")
    unnamed = cookie.partition(".")[2]
    kind, key, value, ttl = sessions.entry(unnamed, session)
    running_hub.hub.store.put(kind, key, value, ttl=ttl)
    assert sessions.load(cookie) == sessions.load(unnamed) == session
    assert sessions.load(f"{running_hub.doctor().id}.{unnamed}") is None  # another name: no session
    time.sleep(0.01)
    sessions.end_all_for(doctor.id)
    assert sessions.load(cookie) is None and sessions.load(unnamed) is None


def test_a_cross_site_post_logout_ends_the_session(running_hub: RunningHub, browser: Browser) -> None:
    """RP-Initiated Logout §2 allows POST; a partner's cross-site form POST carries no
    SameSite=Lax cookie, so the hub answers it as a top-level GET, which does."""
    import requests

    rp = RelyingParty(running_hub, running_hub.client())
    token = rp.sign_in(browser, running_hub.doctor().email)
    form = {"id_token_hint": token["id_token"], "post_logout_redirect_uri": "https://network.example/bye",
            "state": "st-2"}
    cross_site = requests.post(rp.meta["end_session_endpoint"], data=form, allow_redirects=False, timeout=5)
    assert cross_site.status_code == 303
    back = browser.get(running_hub.issuer + cross_site.headers["Location"])  # the browser follows it
    _assert_signed_out_and_back(rp, browser, back, "st-2")
