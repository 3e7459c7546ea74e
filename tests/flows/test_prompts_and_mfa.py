"""prompt, max_age, login_hint, acr_values and the TOTP second factor, as a doctor meets them."""

from __future__ import annotations

import time

import pyotp
import requests

from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params

MFA = "urn:curbside:acr:mfa"


def _signed_in(hub: RunningHub, browser: Browser) -> tuple[RelyingParty, object]:
    doctor = hub.doctor()
    rp = RelyingParty(hub, hub.client())
    rp.sign_in(browser, doctor.email)
    return rp, doctor


def test_prompt_none_without_a_session_returns_login_required(running_hub: RunningHub, browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client())
    url, _ = rp.authorization_url(prompt="none")
    params = callback_params(browser.get(url))
    assert params["error"] == "login_required" and params["state"] == rp.state and params["iss"] == running_hub.issuer


def test_prompt_none_without_consent_returns_consent_required(running_hub: RunningHub, browser: Browser) -> None:
    rp, doctor = _signed_in(running_hub, browser)
    other = RelyingParty(running_hub, running_hub.client())
    url, _ = other.authorization_url(prompt="none")
    assert callback_params(browser.get(url))["error"] == "consent_required"


def test_prompt_login_and_max_age_force_a_fresh_sign_in(running_hub: RunningHub, browser: Browser) -> None:
    rp, doctor = _signed_in(running_hub, browser)
    first_auth = rp.validate_id_token(rp.sign_in(browser, doctor.email)["id_token"])["auth_time"]
    url, _ = rp.authorization_url(prompt="login")
    page = browser.get(url)
    assert 'action="/login"' in page.text
    time.sleep(1.1)
    token = rp.exchange(callback_params(browser.through(page, doctor.email)))
    assert rp.validate_id_token(token["id_token"])["auth_time"] > first_auth
    url, _ = rp.authorization_url(max_age="0")
    assert 'action="/login"' in browser.get(url).text
    url, _ = rp.authorization_url(max_age="3600")
    assert callback_params(browser.get(url))["code"]


def test_login_hint_prefills_the_email(running_hub: RunningHub, browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client())
    url, _ = rp.authorization_url(login_hint="hinted@example.org")
    page = browser.get(url)
    assert 'value="hinted@example.org"' in page.text
    assert 'autocomplete="current-password"' in page.text and "<label" in page.text


def test_consent_lists_the_claims_and_deny_returns_access_denied(running_hub: RunningHub, browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client(client_name="Nordic Doctors"), scope="openid email")
    url, _ = rp.authorization_url()
    page = browser.login(browser.get(url), running_hub.doctor().email)
    assert "Nordic Doctors" in page.text and "Your email address" in page.text
    assert "Your full name" not in page.text  # only what is asked is listed
    params = callback_params(browser.consent(page, "deny"))
    assert params["error"] == "access_denied" and params["state"] == rp.state


def test_claims_parameter_asks_for_a_single_claim(running_hub: RunningHub, browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
    token = rp.sign_in(browser, running_hub.doctor(family_name="Berg").email,
                       claims='{"id_token":{"family_name":null}}')
    claims = rp.validate_id_token(token["id_token"])
    assert claims["family_name"] == "Berg" and "email" not in claims and "given_name" not in claims


def _enrol_totp(hub: RunningHub, browser: Browser) -> tuple[str, list[str]]:
    page = browser.get(f"{hub.issuer}/account/mfa")
    secret = page.text.split('id="totp-secret">')[1].split("<")[0]
    csrf = browser.hidden(page)["csrf"]
    done = browser.post(f"{hub.issuer}/account/mfa", {"csrf": csrf, "otp": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and 'id="recovery-codes"' in done.text
    codes = [c.split("</code>")[0] for c in done.text.split("<code>")[1:]]
    return secret, codes


def test_totp_enrolment_step_up_and_recovery_codes(running_hub: RunningHub, browser: Browser) -> None:
    rp, doctor = _signed_in(running_hub, browser)
    secret, codes = _enrol_totp(running_hub, browser)
    assert len(codes) == 10
    # acr_values asking for MFA makes a password-only session step up.
    url, _ = rp.authorization_url(acr_values=MFA)
    page = browser.login(browser.get(url), doctor.email)
    assert 'name="otp"' in page.text
    wrong = browser.post(f"{running_hub.issuer}/login", {**browser.hidden(page), "otp": "000000"})
    assert wrong.status_code == 401
    ok = browser.post(f"{running_hub.issuer}/login", {**browser.hidden(page), "otp": pyotp.TOTP(secret).now()})
    claims = rp.validate_id_token(rp.exchange(callback_params(ok))["id_token"])
    assert claims["acr"] == MFA and set(claims["amr"]) == {"pwd", "otp", "mfa"}
    # A fresh browser signs in with a recovery code, which then stops working.
    for attempt, expected in ((codes[0], 302), (codes[0], 401)):
        b = Browser(running_hub)
        url, _ = rp.authorization_url()
        page = b.login(b.get(url), doctor.email)
        r = b.post(f"{running_hub.issuer}/login", {**b.hidden(page), "otp": attempt})
        assert r.status_code == expected


def test_essential_acr_that_cannot_be_met_is_access_denied(running_hub: RunningHub, browser: Browser) -> None:
    rp, doctor = _signed_in(running_hub, browser)  # this doctor has no second factor
    url, _ = rp.authorization_url(claims='{"id_token":{"acr":{"essential":true,"values":["%s"]}}}' % MFA)
    assert callback_params(browser.get(url))["error"] == "access_denied"


def test_session_cookie_is_httponly_and_samesite(running_hub: RunningHub, browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client())
    url, _ = rp.authorization_url()
    page = browser.get(url)
    r = browser.login(page, running_hub.doctor().email)
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert r.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert requests.get(running_hub.issuer + "/", timeout=5).status_code == 200


def test_connected_networks_page_lists_sessions_and_disconnect_revokes(running_hub: RunningHub,
                                                                       browser: Browser) -> None:
    rp = RelyingParty(running_hub, running_hub.client(client_name="Nordic Doctors"),
                      scope="openid offline_access")
    token = rp.sign_in(browser, running_hub.doctor().email)
    page = browser.get(f"{running_hub.issuer}/account")
    assert "Nordic Doctors" in page.text and '<td class="active-sessions" data-label="Active sessions">1' in page.text
    form = page.text.split('action="/account/consents/')[1]
    consent_id = form.split("/")[0]
    csrf = browser.hidden(page)["csrf"]
    r = browser.post(f"{running_hub.issuer}/account/consents/{consent_id}/revoke", {"csrf": csrf})
    assert r.status_code == 303
    assert "Nordic Doctors" not in browser.get(f"{running_hub.issuer}/account").text
    dead = requests.post(rp.meta["token_endpoint"], data={"grant_type": "refresh_token",
                                                          "refresh_token": token["refresh_token"]},
                         auth=(rp.creds["client_id"], rp.creds["client_secret"]), timeout=5)
    assert dead.json()["error"] == "invalid_grant"


def test_prompt_login_or_max_age_zero_on_a_first_visit_asks_consent_once(
        running_hub: RunningHub, browser: Browser) -> None:
    """The login the request asked for happens before the consent page; consenting must
    then finish the request, not ask for yet another login."""
    doctor = running_hub.doctor()
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        rp = RelyingParty(running_hub, running_hub.client())  # a network not consented to yet
        url, _ = rp.authorization_url(**extra)
        consent_page = browser.login(browser.get(url), doctor.email)
        assert 'action="/consent"' in consent_page.text
        token = rp.exchange(callback_params(browser.consent(consent_page)))
        assert rp.validate_id_token(token["id_token"])["email"] == doctor.email


def test_successful_second_factors_never_lock_a_doctor_out(running_hub: RunningHub, browser: Browser) -> None:
    rp, doctor = _signed_in(running_hub, browser)
    secret, recovery = _enrol_totp(running_hub, browser)
    totp = pyotp.TOTP(secret)
    if time.time() % 30 > 20:  # the loop takes seconds: start it early in a TOTP window
        time.sleep(30.5 - time.time() % 30)
    # Each code works once: the previous, current and next TOTP windows, then recovery codes.
    codes = [totp.at(time.time() + step * 30) for step in (-1, 1)] + recovery
    limit = running_hub.hub.settings.login_max_per_account
    assert len(codes) > limit
    for code in codes[: limit + 1]:
        b = Browser(running_hub)
        url, _ = rp.authorization_url()
        page = b.login(b.get(url), doctor.email)
        assert 'name="otp"' in page.text
        assert "code" in callback_params(b.post(f"{running_hub.issuer}/login", {**b.hidden(page), "otp": code}))


def test_id_token_hint_answers_only_for_the_doctor_it_names(running_hub: RunningHub, browser: Browser) -> None:
    """OIDC Core §3.1.2.1: a silent check with another doctor's hint must not return the
    signed-in doctor; the RP would otherwise meet a different person under prompt=none."""
    rp = RelyingParty(running_hub, running_hub.client())
    ann, bob = running_hub.doctor(), running_hub.doctor()
    ann_token = rp.sign_in(browser, ann.email)["id_token"]
    bob_token = rp.sign_in(Browser(running_hub), bob.email)["id_token"]

    url, _ = rp.authorization_url(prompt="none", id_token_hint=ann_token)
    assert rp.validate_id_token(rp.exchange(callback_params(browser.get(url)))["id_token"])["sub"] == \
        rp.validate_id_token(ann_token, nonce=None)["sub"]

    url, _ = rp.authorization_url(prompt="none", id_token_hint=bob_token)
    params = callback_params(browser.get(url))
    assert params["error"] == "login_required" and params["state"] == rp.state
    assert params["iss"] == running_hub.issuer

    # Interactively the hub asks for the named doctor's sign-in; the wrong one is refused.
    url, _ = rp.authorization_url(id_token_hint=bob_token)
    login_page = browser.get(url)
    assert 'action="/login"' in login_page.text
    assert callback_params(browser.login(login_page, ann.email))["error"] == "login_required"
    url, _ = rp.authorization_url(id_token_hint=bob_token)
    token = rp.exchange(callback_params(browser.through(browser.get(url), bob.email)))
    assert rp.validate_id_token(token["id_token"])["sub"] == rp.validate_id_token(bob_token, nonce=None)["sub"]


def test_an_id_token_hint_the_hub_did_not_issue_to_the_client_is_invalid_request(
        running_hub: RunningHub, browser: Browser) -> None:
    rp, other = RelyingParty(running_hub, running_hub.client()), RelyingParty(running_hub, running_hub.client())
    doctor = running_hub.doctor()
    rp.sign_in(browser, doctor.email)
    others_token = other.sign_in(browser, doctor.email)["id_token"]
    head, body, _sig = others_token.split(".")
    for hint in (others_token, f"{head}.{body}.", "not-a-jwt", others_token[:-4] + "AAAA"):
        url, _ = rp.authorization_url(prompt="none", id_token_hint=hint)
        params = callback_params(browser.get(url))
        assert params["error"] == "invalid_request" and params["state"] == rp.state, hint
