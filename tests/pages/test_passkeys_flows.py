"""Passkey sign-ins through a partner network's code flow without a browser: the doctor's
client is requests, her authenticator the software one of tests/domain/test_passkeys.py
(real P-256 signatures over the hub's own challenges), the network Authlib's client.
What the network sees: the SSO session a passkey began answers prompt=none with the same
acr and amr, and a request for a second factor steps a password session up to a passkey."""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.domain.test_passkeys import SoftAuthenticator
from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params
from tests.flows.test_prompts_and_mfa import _enrol_totp

ACR_MFA, ACR_PHR = "urn:curbside:acr:mfa", "urn:curbside:acr:phr"


def enrolled(h: RunningHub) -> tuple[Browser, Any, SoftAuthenticator]:
    """A doctor signed in with her password who added a passkey from the account page."""
    doctor, browser = h.doctor(), Browser(h)
    assert browser.login(browser.get(f"{h.issuer}/account"), doctor.email).status_code == 303
    csrf = Browser.hidden(browser.get(f"{h.issuer}/account/passkeys"))["csrf"]
    options = browser.s.post(f"{h.issuer}/account/passkeys/options", json={"csrf": csrf}, timeout=10).json()
    auth = SoftAuthenticator(origin=h.issuer)
    added = browser.post(f"{h.issuer}/account/passkeys",
                         {"csrf": csrf, "name": "Phone", "credential": json.dumps(auth.create(options))})
    assert added.status_code == 303, added.text[:300]
    return browser, doctor, auth


def passkey_answer(browser: Browser, page: requests.Response, auth: SoftAuthenticator) -> requests.Response:
    """From the login page: the passkey page, its options, the authenticator's answer."""
    assert 'action="/login/passkey"' in page.text, page.text[:300]
    pending = Browser.hidden(page)["pending"]
    h = browser.hub
    assert browser.get(f"{h.issuer}/login/passkey?pending={pending}").status_code == 200
    options = browser.s.post(f"{h.issuer}/login/passkey/options", json={"pending": pending}, timeout=10).json()
    return browser.post(f"{h.issuer}/login/passkey", {"pending": pending,
                                                       "credential": json.dumps(auth.get(options))})


def test_a_passkey_session_answers_prompt_none_with_its_acr(running_hub: RunningHub) -> None:
    browser, doctor, auth = enrolled(running_hub)
    browser.post(f"{running_hub.issuer}/account/logout",
                 {"csrf": Browser.hidden(browser.get(f"{running_hub.issuer}/account"))["csrf"]})
    rp = RelyingParty(running_hub, running_hub.client())
    url, _ = rp.authorization_url()
    page = browser.through(passkey_answer(browser, browser.get(url), auth), doctor.email)
    first = rp.validate_id_token(rp.exchange(callback_params(page))["id_token"])
    assert (first["acr"], first["amr"]) == (ACR_PHR, ["hwk", "user", "mfa"])

    url, _ = rp.authorization_url(prompt="none")
    again = rp.validate_id_token(rp.exchange(callback_params(browser.get(url)))["id_token"])
    assert (again["acr"], again["amr"], again["auth_time"]) == (ACR_PHR, first["amr"], first["auth_time"])


def test_asking_for_a_second_factor_steps_a_password_session_up_to_the_passkey(running_hub: RunningHub) -> None:
    browser, doctor, auth = enrolled(running_hub)  # signed in with the password alone
    rp = RelyingParty(running_hub, running_hub.client())
    url, _ = rp.authorization_url(acr_values=ACR_MFA)
    page = browser.get(url)
    assert page.status_code == 200 and 'action="/login"' in page.text  # not a code: sign in again
    page = browser.through(passkey_answer(browser, page, auth), doctor.email)
    claims = rp.validate_id_token(rp.exchange(callback_params(page))["id_token"])
    assert claims["acr"] == ACR_PHR and "hwk" in claims["amr"]


def test_a_password_session_without_a_passkey_is_not_stepped_up(running_hub: RunningHub) -> None:
    doctor, browser = running_hub.doctor(), Browser(running_hub)
    rp = RelyingParty(running_hub, running_hub.client())
    rp.sign_in(browser, doctor.email)
    url, _ = rp.authorization_url(acr_values=ACR_MFA)
    claims = rp.validate_id_token(rp.exchange(callback_params(browser.get(url)))["id_token"])
    assert claims["acr"] == "urn:curbside:acr:pwd"  # nothing stronger to give; acr_values is voluntary


def test_a_passwordless_challenge_cannot_answer_the_second_factor_of_another_doctor(
        running_hub: RunningHub) -> None:
    """Mallory knows Ann's password but not her code. She opens the passkey page first (a
    challenge for any passkey), then gives Ann's password (the request now waits for Ann's
    second factor), and answers that old challenge with her own passkey: refused, and no
    code reaches the network (WebAuthn §7.2 step 6: the credential must be the one the
    ceremony was for)."""
    h = running_hub
    _, mallory, mallory_key = enrolled(h)
    ann, ann_browser = h.doctor(), Browser(h)
    assert ann_browser.login(ann_browser.get(f"{h.issuer}/account"), ann.email).status_code == 303
    _enrol_totp(h, ann_browser)

    attacker = Browser(h)
    rp = RelyingParty(h, h.client())
    url, _ = rp.authorization_url()
    login = attacker.get(url)
    pending = Browser.hidden(login)["pending"]
    options = attacker.s.post(f"{h.issuer}/login/passkey/options", json={"pending": pending}, timeout=10).json()
    assert options["allowCredentials"] == []  # usernameless: any passkey
    otp_page = attacker.login(login, ann.email)
    assert 'name="otp"' in otp_page.text
    answer = attacker.post(f"{h.issuer}/login/passkey",
                           {"pending": pending, "credential": json.dumps(mallory_key.get(options))})
    assert answer.status_code == 400 and "expired" in answer.text
    assert "code=" not in answer.headers.get("Location", "")
    # The second factor's own challenge lists only Ann's passkeys, and she has none.
    options = attacker.s.post(f"{h.issuer}/login/passkey/options", json={"pending": pending}, timeout=10)
    assert options.status_code == 400 and "No passkey" in options.json()["error_description"]
