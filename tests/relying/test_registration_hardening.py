"""Dynamic registration against hostile callers: authentication before any work, re-review
after an RFC 7592 change, strict URIs and JSON, and a CSRF token on the operator sign-in."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from hub.pages.operators import create_operator
from hub.protocol.registration import issue_initial_token
from tests.admin.conftest import ConsoleFor, admin_hub, console_for  # noqa: F401  (fixtures)
from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params

GOOD: dict[str, Any] = {
    "client_name": "Baltic Doctors", "redirect_uris": ["https://baltic.example/cb"],
    "post_logout_redirect_uris": ["https://baltic.example/bye"],
    "logo_uri": "https://baltic.example/logo.png", "contacts": ["ops@baltic.example"],
}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def register(hub: RunningHub, body: Any, token: str | None, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, (bytes, str)):
        return requests.post(f"{hub.issuer}/register", data=body, timeout=10,
                             headers={**headers, "Content-Type": "application/json"}, **kw)
    return requests.post(f"{hub.issuer}/register", json=body, headers=headers, timeout=10, **kw)


@pytest.fixture
def sector_host() -> Iterator[tuple[str, list[str]]]:
    """A host serving a sector_identifier_uri document; records every request it gets."""
    app = Flask("sector")
    hits: list[str] = []

    @app.get("/sector.json")
    def sector() -> Any:
        hits.append("GET /sector.json")
        return json.dumps(["https://baltic.example/cb"]), 200, {"Content-Type": "application/json"}

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/sector.json", hits
    server.shutdown()


# -- 1. the initial access token comes first ---------------------------------------------------
@pytest.mark.parametrize("token", [None, "made-up-initial-access-token"])
def test_unauthenticated_registration_makes_the_hub_fetch_nothing(
        running_hub: RunningHub, sector_host: tuple[str, list[str]], token: str | None) -> None:
    url, hits = sector_host
    r = register(running_hub, {**GOOD, "sector_identifier_uri": url}, token)
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    assert r.headers["WWW-Authenticate"].startswith("Bearer ")  # RFC 6750 §3
    assert hits == []  # the hub did not fetch the caller's URL


def test_a_bad_token_is_refused_before_the_body_is_read(running_hub: RunningHub) -> None:
    r = register(running_hub, b"{not json", "made-up-initial-access-token")
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    spent = issue_initial_token(running_hub.hub)
    assert register(running_hub, GOOD, spent).status_code == 201
    assert register(running_hub, b"{not json", spent).status_code == 401  # no use left


# -- 2. an RFC 7592 change is reviewed again ----------------------------------------------------
def test_changed_redirect_uri_gets_no_code_until_an_admin_approves_again(
        admin_hub: RunningHub, console_for: ConsoleFor,  # noqa: F811  (the fixtures imported above)
) -> None:
    hub = admin_hub
    reg = register(hub, GOOD, issue_initial_token(hub.hub)).json()
    client_id, uri = reg["client_id"], reg["registration_client_uri"]
    auth = {"Authorization": f"Bearer {reg['registration_access_token']}"}
    admin = console_for("admin")
    assert admin.act(f"/admin/clients/{client_id}/approve").status_code == 303
    doctor = hub.doctor()
    browser = Browser(hub)
    old_rp = RelyingParty(hub, {**reg, "redirect_uris": GOOD["redirect_uris"]})
    assert old_rp.sign_in(browser, doctor.email)["id_token"]  # consent now remembered
    url, _ = old_rp.authorization_url()
    assert "code" in callback_params(browser.get(url))  # silently, as remembered consent does

    new_uri = "https://attacker.example/cb"
    put = requests.put(uri, headers=auth, timeout=10, json={
        **GOOD, "client_id": client_id, "client_name": "Baltic Doctors Login", "redirect_uris": [new_uri]})
    assert put.status_code == 200 and put.json()["status"] == "pending"
    assert put.json()["redirect_uris"] == [new_uri]
    # The registration access token still reads the registration (RFC 7592 §2.1).
    got = requests.get(uri, headers=auth, timeout=10)
    assert got.status_code == 200 and got.json()["status"] == "pending"
    assert got.json()["client_name"] == "Baltic Doctors Login"

    new_rp = RelyingParty(hub, {**reg, "redirect_uris": [new_uri]})
    url, _ = new_rp.authorization_url()
    held = browser.get(url)
    assert "Location" not in held.headers and "not yet approved" in held.text
    listing = admin.get("/admin/clients")  # the console offers it for approval again
    row = next(r for r in listing.text.split("<tr ") if client_id in r)
    assert "status-pending" in row and f"/admin/clients/{client_id}/approve" in row

    assert admin.act(f"/admin/clients/{client_id}/approve").status_code == 303
    url, _ = new_rp.authorization_url()
    page = browser.get(url)
    # The remembered consent was to the old name and address: the doctor is asked again.
    assert "Location" not in page.headers and 'action="/consent"' in page.text
    assert "Baltic Doctors Login" in page.text
    params = callback_params(browser.consent(page))
    assert new_rp.exchange(params)["id_token"]

    # Read, update (a contact only: no review), delete: RFC 7592 §2 still works end to end.
    # RFC 7592 §2.2: the update repeats the metadata read, without the fields the hub issued.
    issued = ("registration_access_token", "registration_client_uri", "client_id_issued_at",
              "client_secret_expires_at")
    metadata = {k: v for k, v in got.json().items() if k not in issued}
    put = requests.put(uri, headers=auth, timeout=10, json={**metadata, "contacts": ["security@baltic.example"]})
    assert put.status_code == 200 and put.json()["status"] == "active"
    assert requests.delete(uri, headers=auth, timeout=10).status_code == 204
    assert requests.get(uri, headers=auth, timeout=10).status_code == 401


def _no_code(resp: requests.Response) -> bool:
    return "code=" not in resp.headers.get("Location", "")


def test_a_consent_page_opened_before_the_change_cannot_consent_to_the_changed_client(
        admin_hub: RunningHub, console_for: ConsoleFor,  # noqa: F811  (the fixtures imported above)
) -> None:
    hub = admin_hub
    reg = register(hub, GOOD, issue_initial_token(hub.hub)).json()
    admin = console_for("admin")
    assert admin.act(f"/admin/clients/{reg['client_id']}/approve").status_code == 303
    browser = Browser(hub)
    rp = RelyingParty(hub, {**reg, "redirect_uris": GOOD["redirect_uris"]})
    url, _ = rp.authorization_url()
    first = browser.login(browser.get(url), hub.doctor().email)
    url, _ = rp.authorization_url()
    second = browser.get(url)  # a second tab, also showing the old name
    assert "Baltic Doctors" in first.text and 'action="/consent"' in second.text
    time.sleep(1.05)  # pages are timed in whole seconds
    # The same redirect URI, a new name and logo: the old tabs' requests stay well-formed.
    put = requests.put(reg["registration_client_uri"], timeout=10,
                       headers={"Authorization": f"Bearer {reg['registration_access_token']}"},
                       json={**GOOD, "client_id": reg["client_id"], "client_name": "Totally Other Network",
                             "logo_uri": "https://other.example/logo.png"})
    assert put.json()["status"] == "pending"
    assert _no_code(browser.consent(first))  # while the change waits for review
    assert admin.act(f"/admin/clients/{reg['client_id']}/approve").status_code == 303
    assert _no_code(browser.consent(second))  # after it: the doctor never saw the new name
    url, _ = rp.authorization_url()
    again = browser.get(url)
    assert 'action="/consent"' in again.text and "Totally Other Network" in again.text


def test_a_suspended_client_stays_suspended_after_an_update(
        admin_hub: RunningHub, console_for: ConsoleFor,  # noqa: F811  (the fixtures imported above)
) -> None:
    reg = register(admin_hub, GOOD, issue_initial_token(admin_hub.hub)).json()
    admin = console_for("admin")
    assert admin.act(f"/admin/clients/{reg['client_id']}/suspend").status_code == 303
    put = requests.put(reg["registration_client_uri"], timeout=10,
                       headers={"Authorization": f"Bearer {reg['registration_access_token']}"},
                       json={**GOOD, "client_id": reg["client_id"], "client_name": "Renamed"})
    assert put.status_code == 200 and put.json()["status"] == "suspended"


# -- 3. URIs a browser and the hub would read differently ----------------------------------------
@pytest.mark.parametrize("change,error", [
    ({"redirect_uris": ["https://baltic.example@attacker.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://user:pw@baltic.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://baltic.example/cb "]}, "invalid_redirect_uri"),
    ({"redirect_uris": [" https://baltic.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://baltic.example/c b"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://baltic.example\\@attacker.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://baltic.example/cb\t"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://baltic.example/c\u00e9"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://baltic.example:99999/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://baltic.example/%zz"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["/cb"]}, "invalid_redirect_uri"),
    ({"post_logout_redirect_uris": ["https://u:p@baltic.example/bye"]}, "invalid_client_metadata"),
    ({"post_logout_redirect_uris": ["https://baltic.example/bye\n"]}, "invalid_client_metadata"),
    ({"backchannel_logout_uri": "https://ops@baltic.example/bcl"}, "invalid_client_metadata"),
    ({"backchannel_logout_uri": "http://baltic.example/bcl"}, "invalid_client_metadata"),
    ({"sector_identifier_uri": "https://u@baltic.example/s.json"}, "invalid_client_metadata"),
    ({"sector_identifier_uri": "http://127.0.0.1:9/sector.json"}, "invalid_client_metadata"),
    ({"logo_uri": "https://baltic.example/logo.png "}, "invalid_client_metadata"),
    ({"policy_uri": "https://a@baltic.example/privacy"}, "invalid_client_metadata"),
    ({"tos_uri": "https://baltic.example/terms\"onmouseover=\"x"}, "invalid_client_metadata"),
    ({"client_name": "\u202eLatot Doctors"}, "invalid_client_metadata"),
    ({"redirect_uris": [f"https://baltic.example/cb{i}" for i in range(50)]}, "invalid_redirect_uri"),
])
def test_junk_uris_are_refused(running_hub: RunningHub, change: dict[str, Any], error: str) -> None:
    token = issue_initial_token(running_hub.hub)
    r = register(running_hub, {**GOOD, **change}, token)
    assert r.status_code == 400 and r.json()["error"] == error, r.text
    assert register(running_hub, GOOD, token).status_code == 201  # the refusal spent no use


def test_an_update_with_junk_uris_is_refused_and_keeps_the_registration(running_hub: RunningHub) -> None:
    reg = register(running_hub, GOOD, issue_initial_token(running_hub.hub)).json()
    auth = {"Authorization": f"Bearer {reg['registration_access_token']}"}
    put = requests.put(reg["registration_client_uri"], headers=auth, timeout=10, json={
        **GOOD, "client_id": reg["client_id"], "redirect_uris": ["https://baltic.example@evil.example/cb"]})
    assert put.status_code == 400 and put.json()["error"] == "invalid_redirect_uri"
    got = requests.get(reg["registration_client_uri"], headers=auth, timeout=10).json()
    assert got["redirect_uris"] == GOOD["redirect_uris"]


# -- 4. malformed JSON is a client error ----------------------------------------------------------
@pytest.mark.parametrize("body", [
    "[" * 20_000 + "]" * 20_000,
    '{"client_name":' + "[" * 20_000 + "]" * 20_000 + "}",
    "{" + '"a":{' * 10_000 + "}" * 10_001,
    '"just a string"', "42", "null", "[]", "",
    '{"client_name": "A", "client_name": "B", "redirect_uris": ["https://baltic.example/cb"]}',
    '{"client_name": NaN, "redirect_uris": ["https://baltic.example/cb"]}',
    '{"grant_types": [["authorization_code"]], "redirect_uris": ["https://baltic.example/cb"]}',
    '{"grant_types": [{}], "redirect_uris": ["https://baltic.example/cb"]}',
    '{"id_token_signed_response_alg": ["RS256"], "redirect_uris": ["https://baltic.example/cb"]}',
    '{"token_endpoint_auth_method": {"a": 1}, "redirect_uris": ["https://baltic.example/cb"]}',
    '{"client_name": "' + "x" * 40_000 + '", "redirect_uris": ["https://baltic.example/cb"]}',
    '{"redirect_uris": ["https://baltic.example/cb"], "contacts": [' + ",".join(['"a@b.example"'] * 500) + "]}",
    b'{"client_name": "\xff\xfe", "redirect_uris": ["https://baltic.example/cb"]}',
])
def test_malformed_json_is_invalid_client_metadata(running_hub: RunningHub, body: str | bytes) -> None:
    token = issue_initial_token(running_hub.hub)
    r = register(running_hub, body, token)
    assert r.status_code == 400, (r.status_code, r.text[:200])
    assert r.json()["error"] == "invalid_client_metadata"
    assert register(running_hub, GOOD, token).status_code == 201  # the refusal spent no use


@pytest.mark.parametrize("uris", ['"https://baltic.example/cb"', '[["https://baltic.example/cb"]]',
                                  '[{"uri": "https://baltic.example/cb"}]', "[null]", '{"a": 1}'])
def test_wrong_typed_redirect_uris_are_invalid_redirect_uri(running_hub: RunningHub, uris: str) -> None:
    r = register(running_hub, '{"redirect_uris": %s}' % uris, issue_initial_token(running_hub.hub))
    assert r.status_code == 400 and r.json()["error"] == "invalid_redirect_uri", r.text


def test_malformed_json_in_an_update_is_a_client_error(running_hub: RunningHub) -> None:
    reg = register(running_hub, GOOD, issue_initial_token(running_hub.hub)).json()
    r = requests.put(reg["registration_client_uri"], data="[" * 20_000 + "]" * 20_000, timeout=10,
                     headers={"Authorization": f"Bearer {reg['registration_access_token']}",
                              "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_client_metadata"


# -- 5. operator sign-in ------------------------------------------------------------------------
def test_operator_sign_in_needs_the_forms_csrf_token(running_hub: RunningHub) -> None:
    email = "ops-csrf@example.org"
    _, uri = create_operator(running_hub.hub, email, "a long operator password")
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    login = f"{running_hub.issuer}/operator/login"
    creds = {"email": email, "password": "a long operator password"}
    # Another site's form posts the right credentials (login CSRF): no session results.
    forged = requests.post(login, data={**creds, "otp": totp.now()}, timeout=10, allow_redirects=False)
    assert forged.status_code == 400 and "Set-Cookie" not in forged.headers
    s = requests.Session()
    other = _CSRF.search(requests.get(login, timeout=10).text).group(1)  # another browser's token
    s.get(login, timeout=10)
    stolen = s.post(login, data={**creds, "otp": totp.now(), "csrf": other}, timeout=10,
                    allow_redirects=False)
    assert stolen.status_code == 400
    token = _CSRF.search(s.get(login, timeout=10).text).group(1)
    ok = s.post(login, data={**creds, "otp": totp.now(), "csrf": token}, timeout=10, allow_redirects=False)
    assert ok.status_code == 303 and ok.headers["Location"] == "/operator"
    home = s.get(f"{running_hub.issuer}/operator", timeout=10, allow_redirects=False)
    assert home.status_code == 200 and 'action="/operator/logout"' in home.text
