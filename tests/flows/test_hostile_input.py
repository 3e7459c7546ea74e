"""Input that once reached a server error, now answered with the standard refusal.

Quotes, backslashes, control and non-ASCII characters in the /authorize parameters that
Authlib names in its error descriptions; Basic credentials that do not decode; ids in a URL
beyond what the database's INTEGER holds.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.admin.conftest import Console, new_admin
from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params

UNQUOTABLE = ['"', "\\", "\x01", "\x7f", "é", "😷"]
TOO_BIG = "99999999999999999999"  # beyond PostgreSQL's INTEGER and SQLite's 64-bit integer


@pytest.fixture
def rp(running_hub: RunningHub) -> RelyingParty:
    return RelyingParty(running_hub, running_hub.client())


@pytest.fixture
def signed_in(rp: RelyingParty, running_hub: RunningHub) -> Browser:
    """A browser with an SSO session: its POSTs to /authorize are answered, not bounced."""
    browser = Browser(running_hub)
    rp.sign_in(browser, running_hub.doctor().email)
    return browser


def _authorize_params(rp: RelyingParty, **over: str) -> dict[str, str]:
    url, _ = rp.authorization_url()
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    return {**params, **over}


def _send(browser: Browser, rp: RelyingParty, method: str, params: dict[str, str]) -> requests.Response:
    url = rp.meta["authorization_endpoint"]
    if method == "GET":
        return browser.get(f"{url}?{urlencode(params)}")
    return browser.post(url, params)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("char", UNQUOTABLE)
def test_an_unquotable_redirect_uri_gets_an_error_page_not_a_redirect(
        rp: RelyingParty, signed_in: Browser, method: str, char: str) -> None:
    registered = rp.creds["redirect_uris"][0]
    for uri in (registered + char, registered.replace("network", f"net{char}work")):
        for response_type in ("code", f"co{char}de"):
            params = _authorize_params(rp, redirect_uri=uri, response_type=response_type)
            page = _send(signed_in, rp, method, params)
            # RFC 6749 §4.1.2.1: never redirect to a redirect_uri that was not verified.
            assert page.status_code == 400 and "Location" not in page.headers, (uri, page.text[:300])
            assert "not registered" in page.text
            assert page.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("char", UNQUOTABLE)
def test_an_unquotable_response_type_is_an_error_redirect_to_a_registered_uri(
        rp: RelyingParty, signed_in: Browser, method: str, char: str) -> None:
    params = _authorize_params(rp, response_type=f"co{char}de", state="s-1")
    answer = callback_params(_send(signed_in, rp, method, params))
    assert answer["error"] == "unsupported_response_type"
    assert answer["state"] == "s-1" and answer["iss"] == rp.hub.issuer
    assert "code" not in answer
    location = _send(signed_in, rp, method, params).headers["Location"]
    assert location.startswith(rp.creds["redirect_uris"][0] + "?")


def test_a_post_without_a_session_is_bounced_and_then_refused_the_same_way(
        rp: RelyingParty, browser: Browser) -> None:
    params = _authorize_params(rp, redirect_uri=rp.creds["redirect_uris"][0] + '"')
    bounced = browser.post(rp.meta["authorization_endpoint"], params)
    assert bounced.status_code == 303
    page = browser.get(rp.hub.issuer + bounced.headers["Location"])
    assert page.status_code == 400 and "not registered" in page.text


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


MALFORMED_BASIC = {
    "not UTF-8": "Basic /w==",
    "not UTF-8 in the id": _basic(b"\xff\xfe:secret"),
    "no colon": _basic(b"client-and-no-secret"),
    "bad base64": "Basic !!!not-base64",
    "not ASCII": "Basic é",
    "empty id": _basic(b":secret"),
    "empty secret": _basic(b"client:"),
    "both empty": _basic(b":"),
    "no credentials": "Basic",
}


@pytest.mark.parametrize("header", MALFORMED_BASIC.values(), ids=MALFORMED_BASIC.keys())
@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke"])
def test_malformed_basic_credentials_are_invalid_client(running_hub: RunningHub, path: str, header: str) -> None:
    r = requests.post(running_hub.issuer + path, data={"grant_type": "client_credentials", "token": "x"},
                      headers={"Authorization": header.encode("latin-1")}, timeout=5)  # type: ignore[dict-item]
    # RFC 6749 §5.2: 401 with the challenge of the scheme the client tried.
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text
    assert r.headers["WWW-Authenticate"].startswith('Basic realm="curbside"')
    assert r.headers["Cache-Control"] == "no-store"


def test_well_formed_basic_credentials_still_authenticate(rp: RelyingParty) -> None:
    """The check refuses only what does not decode: a percent-encoded secret still works."""
    creds = (rp.creds["client_id"], rp.creds["client_secret"])
    token = requests.post(rp.meta["token_endpoint"], data={"grant_type": "client_credentials"},
                          auth=creds, timeout=5)
    assert token.status_code == 200
    seen = requests.post(rp.hub.issuer + "/introspect", data={"token": token.json()["access_token"]},
                         auth=creds, timeout=5)
    assert seen.status_code == 200 and seen.json()["active"] is True


# -- ids beyond the database's integer ----------------------------------------------------------
@pytest.fixture(scope="module")
def console(running_hub: RunningHub) -> Iterator[Console]:
    yield new_admin(running_hub, "admin").sign_in()


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.mark.parametrize("number", [TOO_BIG, "2147483648", "9223372036854775808"])
def test_ids_beyond_the_database_integer_are_not_found_on_the_doctor_pages(
        rp: RelyingParty, signed_in: Browser, number: str) -> None:
    csrf = _doctor_csrf(signed_in)
    for path in (f"/account/consents/{number}/revoke", f"/account/verification/documents/{number}/delete"):
        r = signed_in.post(rp.hub.issuer + path, {"csrf": csrf})
        assert r.status_code == 404 and "Page not found" in r.text, (path, r.status_code)
    # The largest id that fits still reaches the view: the doctor's own consent is found
    # by its id, another id is not.
    r = signed_in.post(rp.hub.issuer + "/account/consents/2147483647/revoke", {"csrf": csrf})
    assert r.status_code == 404


def _doctor_csrf(browser: Browser) -> str:
    page = browser.get(browser.hub.issuer + "/account")
    found = _CSRF.search(page.text)
    assert found, page.text[:300]
    return found.group(1)


@pytest.mark.parametrize("number", [TOO_BIG, "2147483648", "9223372036854775808"])
def test_ids_beyond_the_database_integer_are_not_found_in_the_admin_console(
        console: Console, number: str) -> None:
    page = console.get(f"/admin/documents/{number}")
    assert page.status_code == 404, page.text[:300]
    for action in (f"/admin/documents/{number}/accept", f"/admin/documents/{number}/reject",
                   f"/admin/reviews/{number}/approve", f"/admin/reviews/{number}/reject"):
        r = console.act(action)
        assert r.status_code == 404, (action, r.status_code, r.text[:300])


def test_a_nul_in_the_admin_sign_in_email_is_a_failed_sign_in(running_hub: RunningHub) -> None:
    """Reachable without any account: the sign-in page's token is given to every visitor."""
    s = requests.Session()
    page = s.get(f"{running_hub.issuer}/admin/login", timeout=5)
    csrf = _CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    r = s.post(f"{running_hub.issuer}/admin/login", data={"csrf": csrf, "email": "admin\x00@curbside.example",
                                                          "password": "a long admin passphrase"}, timeout=5)
    assert r.status_code == 401 and "do not match" in r.text
