"""Found in review (2026-12): a brokered sign-in (through a linked network) asks for the
doctor's own second factor when one is enrolled, before any hub session exists."""

from __future__ import annotations

import json
from typing import Any

import pyotp
import requests

from hub.domain.sessions import ACR_MFA, ACR_PWD
from tests.domain.test_passkeys import SoftAuthenticator
from tests.flows.conftest import Browser, RelyingParty, callback_params
from tests.links.linkkit import Doctor, Net


def enrol_totp(doctor: Doctor) -> str:
    """The doctor sets up an authenticator from her account page; returns its secret."""
    enrol = doctor.page("/account/mfa")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    done = doctor.browser.post(f"{doctor.hub.issuer}/account/mfa",
                               {"csrf": Browser.hidden(enrol)["csrf"], "otp": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and 'id="recovery-codes"' in done.text
    return secret


def brokered_sign_in(running_hub: Any, net: Net) -> tuple[Browser, RelyingParty, requests.Response]:
    """A fresh browser starts at a partner network and picks "Sign in with <net>" on the
    hub's login page; returns what the hub answers on the upstream's callback."""
    b = Browser(running_hub)
    rp = RelyingParty(running_hub, running_hub.client(redirect_uris=["https://network.example/cb"]))
    url, _ = rp.authorization_url()
    fields = Browser.hidden(b.get(url))
    go = b.post(f"{running_hub.issuer}/links/signin/{net.name}", {"pending": fields["pending"]})
    assert go.status_code == 303, go.text[:300]
    back = b.get(b.get(go.headers["Location"]).headers["Location"])
    return b, rp, back


def test_a_brokered_sign_in_asks_for_the_enrolled_second_factor(
        hub: Any, doctor: Doctor, make_net: Any, running_hub: Any) -> None:
    net: Net = make_net("oidc", display_name="Artsennet")
    doctor.link(net)
    secret = enrol_totp(doctor)

    b, rp, back = brokered_sign_in(running_hub, net)
    # The upstream sign-in alone is not enough: the code page, and no hub session yet.
    assert back.status_code == 200 and 'name="otp"' in back.text, back.text[:300]
    assert 'action="/login"' in b.get(running_hub.issuer + "/account").text
    wrong = b.post(f"{running_hub.issuer}/login",
                   {"pending": Browser.hidden(back)["pending"], "otp": "000000"})
    assert wrong.status_code == 401 and 'name="otp"' in wrong.text
    assert 'action="/login"' in b.get(running_hub.issuer + "/account").text

    done = b.post(f"{running_hub.issuer}/login",
                  {"pending": Browser.hidden(wrong)["pending"], "otp": pyotp.TOTP(secret).now()})
    final = b.through(done, doctor.account.email)
    claims = rp.validate_id_token(rp.exchange(callback_params(final))["id_token"])
    # RFC 8176: the methods this sign-in used, the upstream account and the code.
    assert claims["amr"] == ["fed", "otp", "mfa"] and claims["acr"] == ACR_MFA
    assert b.get(running_hub.issuer + "/account").status_code == 200
    assert 'action="/login"' not in b.get(running_hub.issuer + "/account").text


def test_the_second_factor_after_a_brokered_sign_in_is_throttled(
        hub: Any, doctor: Doctor, make_net: Any, running_hub: Any) -> None:
    net: Net = make_net("oidc", display_name="Artsennet")
    doctor.link(net)
    secret = enrol_totp(doctor)
    b, _, page = brokered_sign_in(running_hub, net)
    for _ in range(50):
        page = b.post(f"{running_hub.issuer}/login",
                      {"pending": Browser.hidden(page)["pending"], "otp": "000000"})
        if page.status_code == 429:
            break
        assert page.status_code == 401
    assert page.status_code == 429
    # Throttled, even the right code is not tried.
    right = b.post(f"{running_hub.issuer}/login",
                   {"pending": Browser.hidden(page)["pending"], "otp": pyotp.TOTP(secret).now()})
    assert right.status_code == 429
    assert 'action="/login"' in b.get(running_hub.issuer + "/account").text


def test_without_a_second_factor_a_brokered_sign_in_stays_single_factor(
        hub: Any, doctor: Doctor, make_net: Any, running_hub: Any) -> None:
    net: Net = make_net("oidc", display_name="Artsennet")
    doctor.link(net)
    b, rp, back = brokered_sign_in(running_hub, net)
    final = b.through(back, doctor.account.email)
    claims = rp.validate_id_token(rp.exchange(callback_params(final))["id_token"])
    assert claims["amr"] == ["fed"] and claims["acr"] == ACR_PWD


def test_a_brokered_session_cannot_set_up_a_first_second_factor(
        hub: Any, doctor: Doctor, make_net: Any, running_hub: Any) -> None:
    """Whoever controls the upstream account must not enrol an authenticator of their own
    on an account that has none: the doctor's password sign-in would then need their code."""
    net: Net = make_net("oidc", display_name="Artsennet")
    doctor.link(net)
    b, _, back = brokered_sign_in(running_hub, net)
    b.through(back, doctor.account.email)
    account = b.get(running_hub.issuer + "/account")
    assert 'action="/login"' not in account.text
    page = b.get(f"{running_hub.issuer}/account/mfa")
    assert page.status_code == 403 and 'id="totp-secret"' not in page.text
    assert "password" in page.text
    enrol = b.post(f"{running_hub.issuer}/account/mfa",
                   {"csrf": Browser.hidden(account)["csrf"], "otp": "123456"})
    assert enrol.status_code == 403
    assert not hub.accounts.get(doctor.id).mfa_enabled
    assert enrol_totp(doctor)  # her own password session still can


def test_a_brokered_session_cannot_remove_the_doctors_passkey(
        hub: Any, doctor: Doctor, make_net: Any, running_hub: Any) -> None:
    """Whoever controls the upstream account must not strip the doctor's passkeys either."""
    own = doctor.page("/account/passkeys")
    options = doctor.browser.s.post(f"{running_hub.issuer}/account/passkeys/options", timeout=10,
                                    json={"csrf": Browser.hidden(own)["csrf"]}).json()
    added = doctor.browser.post(f"{running_hub.issuer}/account/passkeys", {
        "csrf": Browser.hidden(own)["csrf"], "name": "Phone",
        "credential": json.dumps(SoftAuthenticator(origin=running_hub.issuer).create(options))})
    assert added.status_code == 303, added.text[:300]
    [passkey] = hub.passkeys.list_for(doctor.id)

    net: Net = make_net("oidc", display_name="Artsennet")
    doctor.link(net)
    b, _, back = brokered_sign_in(running_hub, net)
    b.through(back, doctor.account.email)
    page = b.get(f"{running_hub.issuer}/account/passkeys")
    removed = b.post(f"{running_hub.issuer}/account/passkeys/{passkey.id}/remove",
                     {"csrf": Browser.hidden(page)["csrf"]})
    assert removed.status_code == 403 and "password" in removed.text
    assert [p.id for p in hub.passkeys.list_for(doctor.id)] == [passkey.id]
