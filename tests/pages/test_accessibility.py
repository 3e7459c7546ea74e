"""Every page a doctor or an operator sees, in each language, in Debian's chromium: no serious
or critical axe-core violation, usable 360 px wide, and a sign-in done with the keyboard alone.

The language is asked for as a browser and a network do: Accept-Language on every request,
and ``ui_locales`` on the authorization and logout requests (OIDC Core §3.1.2.1).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from connectors.base import ActivityItem
from hub.links import links_for
from hub.pages.operators import create_operator
from hub.persistence.models.links import AccountLink, RelayState
from tests.admin.test_browser import chromium  # noqa: F401  (Debian's chromium, or a skip)
from tests.domain.test_passkeys import SoftAuthenticator
from tests.flows.conftest import PASSWORD, RelyingParty, RunningHub
from tests.pages.a11y import BROWSER_LOCALES, DESKTOP, Audit, axe_source
from tests.relying.conftest import EXAMPLES, set_policy

# The pages do not depend on the database: the embedded backend is enough.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
LANGUAGES = ["en", "nl", "da"]
# An upstream OpenID Provider a doctor can sign in with (never contacted: the page only lists it).
BROKER_CONFIG = {"client_id": "curbside", "client_secret": "not-used", "issuer": "https://artsennet.example",
                 "activity": {"url": "https://artsennet.example/api/posts",
                              "mapping": {"items_path": "posts", "title": "subject", "summary": "body",
                                          "url": "link", "published": "created_at",
                                          "actor": "author", "kind": "type"}}}


@pytest.fixture(scope="module")
def network_site() -> Iterator[str]:
    """The partner network's callback on a loopback socket (RFC 8252 §7.3): the browser
    lands there with the code."""
    landing = Response('<!doctype html><html lang="en"><title>Network</title>'
                       "<main><h1>Signed in</h1></main></html>", mimetype="text/html")
    server = make_server("127.0.0.1", 0, lambda environ, start: landing(environ, start), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


@pytest.fixture(params=LANGUAGES)
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(chromium: Any, lang: str) -> Iterator[Any]:  # noqa: F811
    context = chromium.new_context(viewport=DESKTOP, locale=BROWSER_LOCALES[lang])
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    # Inline markup the CSP refuses shows up as a console error; a missing stylesheet as a
    # failed sub-resource. (The 4xx pages themselves are expected here.)
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.request.resource_type != "document" and r.status >= 400 else None)
    yield page
    context.close()
    assert errors == []


@pytest.fixture
def audit(axe: str, lang: str, running_hub: RunningHub) -> Audit:
    return Audit(axe, lang, running_hub.metadata().get("ui_locales_supported", ["en"]))


def _sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()


def _wrong_code(secret: str) -> str:
    now = pyotp.TOTP(secret).now()
    return "000000" if now != "000000" else "111111"


def _landed(page: Any, rp: RelyingParty) -> dict[str, Any]:
    page.wait_for_url(f"{rp.creds['redirect_uris'][0]}?**")
    params = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    return rp.exchange(params)


def test_sign_in_second_factor_consent_and_home(page: Any, audit: Audit, running_hub: RunningHub,
                                                lang: str, network_site: str) -> None:
    h = running_hub
    doctor = h.doctor()
    secret = pyotp.random_base32()
    h.hub.accounts.confirm_totp(doctor.id, secret, pyotp.TOTP(secret).now())
    rp = RelyingParty(h, h.client(client_name="Nordic Doctors",
                                  redirect_uris=[f"{network_site}/cb"]))

    page.goto(f"{h.issuer}/")
    audit.check(page, "home")
    url, _ = rp.authorization_url(ui_locales=lang)
    # A linked network that can sign doctors in adds its button under the password form.
    broker = f"a11y-broker-{lang}"
    links_for(h.hub).networks.add(broker, "oidc", BROKER_CONFIG, display_name="Artsennet")
    try:
        page.goto(url)
        page.locator(f"form[action='/links/signin/{broker}']").wait_for()
        audit.check(page, "sign-in, with a linked network's button")
    finally:
        links_for(h.hub).networks.add(broker, "oidc", BROKER_CONFIG, display_name="Artsennet", enabled=False)
    _sign_in(page, doctor.email, "not the password")
    page.locator("#login-error").wait_for()
    audit.check(page, "sign-in, wrong password")
    _sign_in(page, doctor.email)
    page.locator("#otp").fill(_wrong_code(secret))
    page.locator("form[action='/login'] button[type=submit]").click()
    page.locator("#otp-error").wait_for()
    audit.check(page, "second factor, wrong code")
    page.locator("#otp").fill(pyotp.TOTP(secret).now())
    page.locator("form[action='/login'] button[type=submit]").click()
    page.locator("form[action='/consent']").wait_for()
    audit.check(page, "consent")
    page.locator("button[value=allow]").click()
    assert rp.validate_id_token(_landed(page, rp)["id_token"])
    audit.assert_clean()


def test_account_pages(page: Any, audit: Audit, running_hub: RunningHub, lang: str,
                       network_site: str) -> None:
    h = running_hub
    doctor = h.doctor()
    network, other = f"a11y-feed-{lang}", f"a11y-feed2-{lang}"
    links = links_for(h.hub)
    links.networks.add(network, "feed", {"allowed_hosts": ["feeds.example"]},
                       display_name="Casus public feed")
    links.networks.add(other, "feed", {"allowed_hosts": ["feeds.example"]},
                       display_name="Artsennet public feed")
    _linked_with_activity(h, doctor, network)
    rp = RelyingParty(h, h.client(client_name="Artsennet", redirect_uris=[f"{network_site}/cb"]))

    page.goto(f"{h.issuer}/account")
    audit.check(page, "sign-in from the account page")
    _sign_in(page, doctor.email)
    url, _ = rp.authorization_url(ui_locales=lang)
    page.goto(url)  # a connected network for the account page's table
    page.locator("button[value=allow]").click()
    _landed(page, rp)

    page.goto(f"{h.issuer}/account")
    page.locator("h1").wait_for()
    audit.check(page, "account")
    page.goto(f"{h.issuer}/account/verification")
    audit.check(page, "verification")
    page.locator("#number").fill("12345")
    page.locator("form[action='/account/verification'] button[type=submit]").click()
    page.locator("#outcome, #form-error").first.wait_for()
    audit.check(page, "verification, after a check")
    page.goto(f"{h.issuer}/account/links")
    audit.check(page, "linked networks")
    page.locator(f"form[action='/account/links/{other}/begin'] button").click()
    page.locator("#url").wait_for()
    audit.check(page, "link a public feed")
    page.goto(f"{h.issuer}/feed")
    page.locator(".feed-item").first.wait_for()
    audit.check(page, "feed")

    page.goto(f"{h.issuer}/account/mfa")
    audit.check(page, "TOTP enrolment")
    uri = page.locator("#totp-link").get_attribute("href")
    page.locator("#otp").fill(_wrong_code(pyotp.parse_uri(uri).secret))
    page.locator("form[action='/account/mfa'] button[type=submit]").click()
    page.locator(".error").wait_for()
    audit.check(page, "TOTP enrolment, wrong code")
    uri = page.locator("#totp-link").get_attribute("href")  # the key the page shows now
    page.locator("#otp").fill(pyotp.parse_uri(uri).now())
    page.locator("form[action='/account/mfa'] button[type=submit]").click()
    page.locator("#recovery-codes").wait_for()
    audit.check(page, "recovery codes")

    # RP-initiated logout without an id_token_hint asks first (RP-Initiated Logout §2).
    page.goto(f"{h.issuer}/logout?client_id={rp.creds['client_id']}&ui_locales={lang}")
    audit.check(page, "logout confirmation")
    page.locator("button[name=confirm]").click()
    page.locator("form[action='/logout']").wait_for(state="detached")
    audit.check(page, "logged out")
    audit.assert_clean()


def _linked_with_activity(h: RunningHub, doctor: Any, network: str) -> None:
    """A linked public feed with a few posts, as the relay would have stored them."""
    now = datetime.now(UTC)
    with h.hub.db.session() as s:
        link = AccountLink(doctor_id=doctor.id, network=network, state="active",
                           active_key=f"{network}|https://feeds.example|{doctor.id}",
                           issuer="https://feeds.example", subject=f"https://feeds.example/{doctor.id}",
                           display_name="Anna de Vries (public feed)", linked_at=now)
        s.add(link)
        s.flush()
        s.add(RelayState(link_id=link.id, last_success_at=now, next_due=now + timedelta(days=1)))
        link_id = link.id
    items = [ActivityItem(network=network, kind="post", title=title, summary=summary,
                          url=f"https://feeds.example/posts/{i}", published=now - timedelta(hours=i),
                          actor="Dr. Lars Jensen", id=str(i))
             for i, (title, summary) in enumerate([
                 ("Case: atypical chest pain in a 34-year-old runner",
                  "ECG normal, troponin borderline. What would you do next?"),
                 ("Guideline update: antibiotic stewardship in primary care", ""),
                 ("Conference in Aarhus next month", "Who else is going?")])]
    assert links_for(h.hub).relay.store_items(link_id, doctor.id, items) == 3


def test_passkey_pages(page: Any, audit: Audit, running_hub: RunningHub, lang: str,
                       network_site: str) -> None:
    """The passkey sign-in page (before and after the browser refuses: the hub's address is
    an IP, which WebAuthn does not take as a relying-party id, so the script shows its
    failure in the page's words) and the account's passkey page with a passkey listed."""
    h = running_hub
    doctor = h.doctor()
    rp = RelyingParty(h, h.client(client_name="Passkey Network", redirect_uris=[f"{network_site}/cb"]))
    url, _ = rp.authorization_url(ui_locales=lang)
    page.goto(url)
    page.locator("#passkey-start").click()
    page.locator("#passkey-signin").wait_for()
    audit.check(page, "passkey sign-in")
    page.locator("#passkey-signin").click()
    alert = page.locator("#passkey-error")
    alert.wait_for()
    assert alert.inner_text() == alert.get_attribute("data-failed")
    audit.check(page, "passkey sign-in, the browser refused")

    binding = f"a11y-{lang}"
    options = h.hub.passkeys.registration_options(doctor, binding)
    h.hub.passkeys.register(doctor.id, binding, SoftAuthenticator(origin=h.issuer).create(options),
                            "Ward 5 laptop")
    page.goto(f"{h.issuer}/account")
    _sign_in(page, doctor.email)
    page.locator("#passkeys").wait_for()
    page.goto(f"{h.issuer}/account/passkeys")
    page.locator("tr.passkey").wait_for()
    audit.check(page, "passkeys")
    audit.assert_clean()


def test_refused_and_error_pages(page: Any, audit: Audit, running_hub: RunningHub, lang: str,
                                 network_site: str) -> None:
    h = running_hub
    doctor = h.doctor()
    creds = h.client(client_name="UK Physicians", redirect_uris=[f"{network_site}/cb"])
    set_policy(h, creds["client_id"], "uk-gmc")
    rp = RelyingParty(h, creds)
    url, _ = rp.authorization_url(ui_locales=lang)
    page.goto(url)
    _sign_in(page, doctor.email)
    page.locator("form[action='/consent'] button[value=allow], a.button").first.wait_for()
    if page.locator("form[action='/consent']").count():
        page.locator("button[value=allow]").click()
    page.locator("a.button").wait_for()
    audit.check(page, "refused by the network's policy")
    page.goto(f"{h.issuer}/authorize?client_id=no-such-network&response_type=code&ui_locales={lang}")
    audit.check(page, "error: unknown network")
    page.goto(f"{h.issuer}/no/such/page")
    audit.check(page, "error: page not found")
    audit.assert_clean()


def test_operator_portal(page: Any, audit: Audit, running_hub: RunningHub, lang: str) -> None:
    h = running_hub
    email = f"ops-a11y-{lang}@example.org"
    _, uri = create_operator(h.hub, email, "a long operator password")
    page.goto(f"{h.issuer}/operator/login")
    audit.check(page, "operator sign-in")
    page.locator("#email").fill(email)
    page.locator("#password").fill("a long operator password")
    page.locator("#otp").fill(pyotp.parse_uri(uri).now())
    page.locator("form[action='/operator/login'] button[type=submit]").click()
    page.locator("#metadata").wait_for()
    audit.check(page, "operator portal, no networks")
    page.locator("#metadata").fill(json.dumps({
        "client_name": f"Scandinavian Forum {lang}", "redirect_uris": ["https://forum.example/cb"]}, indent=2))
    page.locator("form[action='/operator/clients'] button[type=submit]").click()
    page.locator("#created-client").wait_for()
    audit.check(page, "operator portal, network registered")
    page.locator("#networks a").first.click()
    page.locator("#policy").fill((EXAMPLES / "scandinavian-doctors-only.yaml").read_text())
    page.locator("button[value=dry_run]").click()
    page.locator("#dry-run-results").wait_for()
    audit.check(page, "network page, policy dry run")
    page.locator("#policy").fill("rules: [")
    page.locator("button[value=upload]").click()
    page.locator("#policy-problems").wait_for()
    audit.check(page, "network page, policy refused")
    audit.assert_clean()


def test_keyboard_only_sign_in(page: Any, running_hub: RunningHub, lang: str, network_site: str) -> None:
    """Tab, type and Enter alone take a doctor through email, password, TOTP code and consent
    back to the network with a code that redeems for tokens."""
    h = running_hub
    doctor = h.doctor()
    secret = pyotp.random_base32()
    h.hub.accounts.confirm_totp(doctor.id, secret, pyotp.TOTP(secret).now())
    rp = RelyingParty(h, h.client(client_name="Keyboard Network", redirect_uris=[f"{network_site}/cb"]))
    url, _ = rp.authorization_url(ui_locales=lang)
    page.goto(url)
    kb = page.keyboard

    def focused() -> str:
        return str(page.evaluate("() => document.activeElement.id || document.activeElement.tagName"))

    # The sign-in page puts the caret in the email field; nobody has to reach for a mouse.
    assert focused() == "email"
    kb.type(doctor.email)
    kb.press("Tab")
    assert focused() == "password"
    kb.type(PASSWORD)
    kb.press("Enter")
    page.locator("#otp").wait_for()
    assert focused() == "otp"
    kb.type(pyotp.TOTP(secret).now())
    kb.press("Enter")
    page.locator("form[action='/consent']").wait_for()
    # Consent: Tab to the first button (Continue) and press Enter.
    for _ in range(20):
        kb.press("Tab")
        if page.evaluate("() => document.activeElement.value") == "allow":
            break
    else:
        pytest.fail("Tab never reached the consent page's Continue button")
    kb.press("Enter")
    token = _landed(page, rp)
    claims = rp.validate_id_token(token["id_token"])
    assert "otp" in claims.get("amr", []) or "mfa" in claims.get("amr", [])

