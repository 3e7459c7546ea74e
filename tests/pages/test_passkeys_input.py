"""Hostile and stale input on the passkey endpoints, over a real socket: a clear 4xx that
says what was wrong (JSON for the fetch endpoints, a page for the forms), never a 500.
And the headers: the passkey pages allow their own script file and nothing inline; the
login page still allows no script at all."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from tests.domain.test_passkeys import SoftAuthenticator
from tests.flows.conftest import Browser, RunningHub

JSON = {"Content-Type": "application/json"}


def login_page(browser: Browser) -> requests.Response:
    return browser.get(f"{browser.hub.issuer}/account")


def signed_in(h: RunningHub) -> tuple[Browser, Any, str]:
    """A doctor signed in at the account page, and the page's CSRF token."""
    doctor, browser = h.doctor(), Browser(h)
    assert browser.login(login_page(browser), doctor.email).status_code == 303
    page = browser.get(f"{h.issuer}/account/passkeys")
    assert page.status_code == 200
    return browser, doctor, Browser.hidden(page)["csrf"]


@pytest.mark.parametrize("body, headers, expected", [
    ("pending=abc", {"Content-Type": "application/x-www-form-urlencoded"}, "JSON object"),
    ("{not json", JSON, "JSON object"),
    ("[1, 2]", JSON, "JSON object"),
    ('"pending"', JSON, "JSON object"),
    ("{}", JSON, "expired"),
    ('{"pending": 5}', JSON, "expired"),
    ('{"pending": "' + "x" * 5000 + '"}', JSON, "expired"),
    ('{"pending": "\\u0000"}', JSON, "NUL"),
])
def test_sign_in_options_refuse_bad_json(running_hub: RunningHub, body: str, headers: dict[str, str],
                                         expected: str) -> None:
    r = requests.post(f"{running_hub.issuer}/login/passkey/options", data=body.encode(), headers=headers,
                      timeout=10)
    assert r.status_code == 400
    if expected != "NUL":
        assert r.json()["error"] == "invalid_request"
        assert expected in r.json()["error_description"]
    else:
        assert "NUL" in r.text


def test_sign_in_options_need_the_browser_that_started_the_request(running_hub: RunningHub) -> None:
    browser = Browser(running_hub)
    pending = Browser.hidden(login_page(browser))["pending"]
    mine = browser.s.post(f"{running_hub.issuer}/login/passkey/options", json={"pending": pending}, timeout=10)
    assert mine.status_code == 200 and mine.json()["userVerification"] == "required"
    assert mine.json()["allowCredentials"] == []  # usernameless: the hub does not say who has one
    assert mine.headers["Cache-Control"] == "no-store"
    # Another browser (no cookie binding it to the request) learns nothing.
    other = requests.post(f"{running_hub.issuer}/login/passkey/options", json={"pending": pending}, timeout=10)
    assert other.status_code == 400 and "expired" in other.json()["error_description"]


@pytest.mark.parametrize("credential, expected", [
    ("", "sent no passkey"),
    ("not json", "not valid JSON"),
    ("[]", "must be a JSON object"),
    ("{}", "malformed"),
    ('{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {"clientDataJSON": 1}}', "malformed"),
    ("{" + '"a":1,' * 4000 + '"b":2}', "too large"),
])
def test_a_bad_passkey_answer_shows_the_page_again_with_the_reason(running_hub: RunningHub,
                                                                  credential: str, expected: str) -> None:
    browser = Browser(running_hub)
    pending = Browser.hidden(login_page(browser))["pending"]
    browser.s.post(f"{running_hub.issuer}/login/passkey/options", json={"pending": pending}, timeout=10)
    r = browser.post(f"{running_hub.issuer}/login/passkey", {"pending": pending, "credential": credential})
    assert r.status_code == 400, r.text[:300]
    assert expected in r.text and 'id="passkey-error"' in r.text
    assert running_hub.hub.sessions.cookie_name not in r.cookies


def test_an_unknown_passkey_and_an_expired_page_are_refused(running_hub: RunningHub) -> None:
    browser = Browser(running_hub)
    pending = Browser.hidden(login_page(browser))["pending"]
    options = browser.s.post(f"{running_hub.issuer}/login/passkey/options", json={"pending": pending},
                             timeout=10).json()
    answer = SoftAuthenticator(origin=running_hub.issuer).get(
        options, credential=_stray_credential(options["rpId"]))
    r = browser.post(f"{running_hub.issuer}/login/passkey", {"pending": pending, "credential": json.dumps(answer)})
    assert r.status_code == 400 and "not registered with Curbside" in r.text
    # The challenge went with that answer: the same answer again finds an expired page.
    r = browser.post(f"{running_hub.issuer}/login/passkey", {"pending": pending, "credential": json.dumps(answer)})
    assert r.status_code == 400 and "expired" in r.text
    gone = browser.post(f"{running_hub.issuer}/login/passkey", {"pending": "nope", "credential": "{}"})
    assert gone.status_code == 400 and "expired" in gone.text


def _stray_credential(rp_id: str) -> Any:
    auth = SoftAuthenticator()
    auth.create({"rp": {"id": rp_id}, "user": {"id": "dXNlcg"}, "challenge": "AAAA"})
    return auth.credentials[0]


def test_enrolment_endpoints_refuse_without_session_or_csrf(running_hub: RunningHub) -> None:
    base = running_hub.issuer
    r = requests.post(f"{base}/account/passkeys/options", json={"csrf": "x"}, timeout=10)
    assert r.status_code == 401 and "signed out" in r.json()["error_description"]
    browser, _, csrf = signed_in(running_hub)
    r = browser.s.post(f"{base}/account/passkeys/options", json={"csrf": "forged"}, timeout=10)
    assert r.status_code == 400 and "expired" in r.json()["error_description"]
    r = browser.s.post(f"{base}/account/passkeys/options", data="[]", headers=JSON, timeout=10)
    assert r.status_code == 400 and "JSON object" in r.json()["error_description"]
    r = browser.s.post(f"{base}/account/passkeys/options", json={"csrf": csrf}, timeout=10)
    assert r.status_code == 200 and r.json()["authenticatorSelection"]["residentKey"] == "required"
    r = browser.post(f"{base}/account/passkeys", {"csrf": csrf, "name": "x", "credential": "{]"})
    assert r.status_code == 400 and "not valid JSON" in r.text
    r = browser.post(f"{base}/account/passkeys", {"csrf": "forged", "name": "x", "credential": "{}"})
    assert r.status_code == 400 and "expired" in r.text


def test_another_doctors_passkey_cannot_be_renamed_or_removed(running_hub: RunningHub) -> None:
    owner, _, owner_csrf = signed_in(running_hub)
    base = running_hub.issuer
    options = owner.s.post(f"{base}/account/passkeys/options", json={"csrf": owner_csrf}, timeout=10).json()
    answer = SoftAuthenticator(origin=base).create(options)
    assert owner.post(f"{base}/account/passkeys", {"csrf": owner_csrf, "name": "Mine",
                                                   "credential": json.dumps(answer)}).status_code == 303
    page = owner.get(f"{base}/account/passkeys").text
    passkey_id = re.findall(r'<tr class="passkey" id="passkey-(\d+)"', page)[0]

    other, _, other_csrf = signed_in(running_hub)
    for action, data in (("rename", {"name": "Theirs"}), ("remove", {})):
        r = other.post(f"{base}/account/passkeys/{passkey_id}/{action}", {"csrf": other_csrf, **data})
        assert r.status_code == 404
    r = owner.post(f"{base}/account/passkeys/{passkey_id}/rename", {"csrf": owner_csrf, "name": "  "})
    assert r.status_code == 400 and "Give the passkey a name" in r.text
    r = owner.post(f"{base}/account/passkeys/99999999999999999999/remove", {"csrf": owner_csrf})
    assert r.status_code == 404
    assert 'value="Mine"' in owner.get(f"{base}/account/passkeys").text


def test_only_the_passkey_pages_allow_script_and_none_inline(running_hub: RunningHub) -> None:
    browser = Browser(running_hub)
    login = login_page(browser)
    assert "script-src" not in login.headers["Content-Security-Policy"]
    assert "<script" not in login.text and 'action="/login/passkey"' in login.text
    pending = Browser.hidden(login)["pending"]
    page = browser.get(f"{running_hub.issuer}/login/passkey?pending={pending}")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert '<script src="/static/passkeys.js" defer></script>' in page.text
    assert page.text.count("<script") == 1
    js = browser.get(f"{running_hub.issuer}/static/passkeys.js")
    assert js.status_code == 200 and "javascript" in js.headers["Content-Type"]
