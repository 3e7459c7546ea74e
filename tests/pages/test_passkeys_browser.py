"""Passkeys as a doctor uses them, in Debian's headless chromium with a CDP virtual
authenticator (CTAP2, resident keys, user verification): enrol from the account page,
sign in with no password through a partner network's real code flow (Authlib), use a
passkey as the second factor, remove one, and meet a policy that demands a passkey.

The hub's issuer is http://localhost:PORT: WebAuthn needs a secure context (localhost is
one over http) and Chromium refuses an IP address as the relying-party id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from hub.relying.policy import store as policy_store
from tests.admin.test_browser import chromium  # noqa: F401  (Debian's chromium, or a skip)
from tests.flows.conftest import PASSWORD, RelyingParty, RunningHub, served_hub
from tests.relying.conftest import declare

ACR_PHR = "urn:curbside:acr:phr"
CALLBACK = "https://network.example/cb"


@pytest.fixture(scope="module")
def hub_on_localhost(backend: Any, database: Any, tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[RunningHub]:
    # Chromium refuses an IP address as the WebAuthn relying-party id.
    yield from served_hub(backend, tmp_path_factory.mktemp("pk-instance"), store_prefix="pk",
                          issuer_host="localhost")


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:  # noqa: F811
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    # A CSP refusal (an inline script, a blocked fetch) shows up as a console error.
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    # The partner network's callback: the browser stops there; the test reads the URL.
    page.route("https://network.example/**", lambda route: route.fulfill(status=200, body="back at the network"))
    yield page
    context.close()
    assert [e for e in errors if "Content Security Policy" in e] == []


def authenticator(page: Any, **options: Any) -> tuple[Any, str]:
    """A virtual platform authenticator in this page's browser (Chrome DevTools Protocol)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True,
        **options}})
    return cdp, found["authenticatorId"]


def password_sign_in(page: Any, email: str, otp_secret: str | None = None) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    if otp_secret:
        page.get_by_label(re.compile("6-digit code")).fill(pyotp.TOTP(otp_secret).now())
        page.get_by_role("button", name="Continue").click()


def enrol(page: Any, h: RunningHub, name: str) -> None:
    page.goto(f"{h.issuer}/account/passkeys")
    page.get_by_label(re.compile("Name it after the device")).fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    row(page, name).wait_for()


def row(page: Any, name: str) -> Any:
    """The passkey's row on the passkeys page; its name is the value of the rename field."""
    return page.locator(f'tr.passkey:has(input[name="name"][value="{name}"])')


def sign_out(page: Any, h: RunningHub) -> None:
    page.goto(f"{h.issuer}/account")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text(re.compile("signed out", re.I)).first.wait_for()


def network(h: RunningHub, **md: Any) -> RelyingParty:
    return RelyingParty(h, h.client(redirect_uris=[CALLBACK], **md))


def code_flow(page: Any, rp: RelyingParty, sign_in: Any) -> dict[str, Any]:
    """The partner network sends the doctor to the hub; ``sign_in`` answers the login page;
    the network exchanges the code and validates the ID token."""
    url, _ = rp.authorization_url()
    page.goto(url)
    sign_in()
    consent = page.locator('form[action="/consent"]')
    consent.or_(page.get_by_text("back at the network")).wait_for()
    if consent.count():
        consent.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"^https://network\.example/cb"))
    params = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    token = rp.exchange(params)
    return rp.validate_id_token(token["id_token"])


def with_passkey(page: Any) -> Any:
    def answer() -> None:
        page.get_by_role("button", name="Sign in with a passkey").click()
        page.get_by_role("button", name="Use my passkey").click()
    return answer


def test_enrol_name_sign_out_and_sign_in_with_the_passkey_alone(page: Any, hub_on_localhost: RunningHub) -> None:
    h = hub_on_localhost
    doctor = h.doctor()
    cdp, auth_id = authenticator(page)
    page.goto(f"{h.issuer}/account")
    password_sign_in(page, doctor.email)
    page.get_by_role("link", name="Add a passkey").click()
    enrol(page, h, "Ward laptop")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth_id})["credentials"]
    assert len(stored) == 1 and stored[0]["isResidentCredential"]
    laptop = row(page, "Ward laptop")
    assert "Not used yet" in laptop.inner_text()
    # Renamed in place; the account page lists it by its new name.
    laptop.get_by_label("Name").fill("Ward 5 laptop")
    laptop.get_by_role("button", name="Rename").click()
    row(page, "Ward 5 laptop").wait_for()
    page.goto(f"{h.issuer}/account")
    assert "Ward 5 laptop" in page.locator("#passkeys + p").inner_text()
    sign_out(page, h)

    rp = network(h)
    claims = code_flow(page, rp, with_passkey(page))
    # RFC 8176: a key bound to this platform authenticator, user-verified; both factors
    # in one authenticator. The acr is the phishing-resistant one.
    assert claims["amr"] == ["hwk", "user", "mfa"]
    assert claims["acr"] == ACR_PHR
    assert claims["sub"]
    page.goto(f"{h.issuer}/account/passkeys")
    assert "Not used yet" not in page.locator("tr.passkey").inner_text()


def test_a_synced_passkey_is_named_a_software_key(page: Any, hub_on_localhost: RunningHub) -> None:
    h = hub_on_localhost
    doctor = h.doctor()
    authenticator(page, defaultBackupEligibility=True, defaultBackupState=True)
    page.goto(f"{h.issuer}/account/passkeys")
    password_sign_in(page, doctor.email)
    enrol(page, h, "Synced phone")
    assert "Synced between your devices" in page.locator("tr.passkey").inner_text()
    sign_out(page, h)
    claims = code_flow(page, network(h), with_passkey(page))
    assert claims["amr"] == ["swk", "user", "mfa"] and claims["acr"] == ACR_PHR


def test_a_passkey_as_the_second_factor(page: Any, hub_on_localhost: RunningHub) -> None:
    h = hub_on_localhost
    doctor = h.doctor()
    enrolment = h.hub.accounts.begin_totp(doctor)
    h.hub.accounts.confirm_totp(doctor.id, enrolment.secret, pyotp.TOTP(enrolment.secret).now())
    authenticator(page)
    page.goto(f"{h.issuer}/account/passkeys")
    password_sign_in(page, doctor.email, enrolment.secret)
    enrol(page, h, "Security key")
    sign_out(page, h)

    def password_then_passkey() -> None:
        password_sign_in(page, doctor.email)
        page.get_by_role("button", name="Use a passkey instead").click()
        page.get_by_role("heading", name=re.compile("Confirm it is you")).wait_for()
        page.get_by_role("button", name="Use my passkey").click()

    claims = code_flow(page, network(h), password_then_passkey)
    assert claims["amr"] == ["pwd", "hwk", "user", "mfa"]
    assert claims["acr"] == ACR_PHR


def test_the_second_factor_page_offers_a_passkey_only_to_a_doctor_with_one(page: Any,
                                                                         hub_on_localhost: RunningHub) -> None:
    h = hub_on_localhost
    doctor = h.doctor()
    enrolment = h.hub.accounts.begin_totp(doctor)
    h.hub.accounts.confirm_totp(doctor.id, enrolment.secret, pyotp.TOTP(enrolment.secret).now())
    page.goto(f"{h.issuer}/account")
    password_sign_in(page, doctor.email)
    page.get_by_label(re.compile("6-digit code")).wait_for()
    assert page.get_by_role("button", name="Use a passkey instead").count() == 0


def test_a_removed_passkey_no_longer_signs_in(page: Any, hub_on_localhost: RunningHub) -> None:
    h = hub_on_localhost
    doctor = h.doctor()
    authenticator(page)
    page.goto(f"{h.issuer}/account/passkeys")
    password_sign_in(page, doctor.email)
    enrol(page, h, "Old phone")
    row(page, "Old phone").get_by_role("button", name="Remove").click()
    page.get_by_text("No passkeys yet.").wait_for()
    sign_out(page, h)

    url, _ = network(h).authorization_url()
    page.goto(url)
    with_passkey(page)()  # the authenticator still holds it; the hub no longer knows it
    alert = page.locator("#passkey-error")
    alert.wait_for()
    assert "not registered" in alert.inner_text()
    assert "network.example" not in page.url


def test_a_policy_demanding_a_passkey_refuses_the_password_and_admits_the_passkey(
        page: Any, hub_on_localhost: RunningHub) -> None:
    h = hub_on_localhost
    rp = network(h, client_name="Passkey Ward")
    policy_store(h.hub).set(rp.creds["client_id"], (
        "version: 1\nclaims: {allowed: [sub, name, email]}\n"
        f"access: {{min_assurance_level: self_declared, min_acr: '{ACR_PHR}'}}\n"), actor="test")
    without, with_key = h.doctor(), h.doctor()
    declare(h, without)
    declare(h, with_key)

    # Password only, no passkey to step up with: refused, and told how to get in.
    url, _ = rp.authorization_url()
    page.goto(url)
    password_sign_in(page, without.email)
    page.get_by_role("heading", name="You cannot enter Passkey Ward yet").wait_for()
    assert "sign in with a passkey" in page.locator("main").inner_text()
    assert page.get_by_role("link", name="Add a passkey").get_attribute("href") == "/account/passkeys"
    sign_out(page, h)

    authenticator(page)
    page.goto(f"{h.issuer}/account/passkeys")
    password_sign_in(page, with_key.email)
    enrol(page, h, "Phone")
    # Signed in with the password, the policy asks for the passkey (a step-up: the login
    # page again), and the passkey gets in.
    claims = code_flow(page, rp, with_passkey(page))
    assert claims["acr"] == ACR_PHR and "hwk" in claims["amr"]
