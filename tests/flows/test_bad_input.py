"""Hostile and malformed requests get the standard answer, never a 500 or a redirect to an
unregistered URI."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import OctKey

from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params


@pytest.fixture
def rp(running_hub: RunningHub) -> RelyingParty:
    return RelyingParty(running_hub, running_hub.client())


def _token(rp: RelyingParty, data: dict, auth: tuple[str, str] | None = "creds") -> requests.Response:  # type: ignore[assignment]
    if auth == "creds":
        auth = (rp.creds["client_id"], rp.creds["client_secret"])
    return requests.post(rp.meta["token_endpoint"], data=data, auth=auth, timeout=5)


def _code(rp: RelyingParty, browser: Browser) -> dict[str, str]:
    url, _ = rp.authorization_url()
    return callback_params(browser.through(browser.get(url), rp.hub.doctor().email))


def test_wrong_client_secret(rp: RelyingParty) -> None:
    r = _token(rp, {"grant_type": "client_credentials"}, (rp.creds["client_id"], "wrong"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # RFC 6749 §5.2: the challenge of the scheme the client used; RFC 7617: with a realm.
    assert r.headers["WWW-Authenticate"] == 'Basic realm="curbside", error="invalid_client"'
    assert r.json()["error_description"] == "Client authentication failed."


def test_unknown_client(rp: RelyingParty, browser: Browser) -> None:
    r = _token(rp, {"grant_type": "client_credentials"}, ("nobody", "x"))
    assert r.json()["error"] == "invalid_client"
    page = browser.get(f"{rp.hub.issuer}/authorize?client_id=nobody&response_type=code&scope=openid"
                       "&redirect_uri=https://evil.example/cb")
    assert page.status_code == 400 and "Location" not in page.headers


def test_missing_or_wrong_pkce_verifier(rp: RelyingParty, browser: Browser) -> None:
    params = _code(rp, browser)
    base = {"grant_type": "authorization_code", "code": params["code"],
            "redirect_uri": rp.creds["redirect_uris"][0]}
    r = _token(rp, base)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    params = _code(rp, browser)
    r = _token(rp, {**base, "code": params["code"], "code_verifier": "x" * 50})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_authorization_without_pkce_is_refused_by_redirect(rp: RelyingParty, browser: Browser) -> None:
    url = (f"{rp.meta['authorization_endpoint']}?client_id={rp.creds['client_id']}&response_type=code"
           f"&scope=openid&redirect_uri={rp.creds['redirect_uris'][0]}&state=s1")
    params = callback_params(browser.get(url))
    assert params["error"] == "invalid_request" and params["state"] == "s1"
    assert params["iss"] == rp.hub.issuer
    plain = url + "&code_challenge=" + "a" * 43 + "&code_challenge_method=plain"
    assert callback_params(browser.get(plain))["error"] == "invalid_request"


@pytest.mark.parametrize("redirect", ["https://evil.example/cb", "https://network.example/cb#frag",
                                      "https://network.example/cb/../x", "https://network.example/cb?x=1"])
def test_unregistered_redirect_uri_gets_an_error_page(rp: RelyingParty, browser: Browser, redirect: str) -> None:
    url, _ = rp.authorization_url()
    bad = url.replace(requests.utils.quote(rp.creds["redirect_uris"][0], safe=""),
                      requests.utils.quote(redirect, safe=""))
    bad = bad.replace(f"redirect_uri={rp.creds['redirect_uris'][0]}", f"redirect_uri={requests.utils.quote(redirect, safe='')}")
    page = browser.get(bad)
    assert page.status_code == 400 and "Location" not in page.headers
    assert "not registered" in page.text


def test_missing_redirect_uri_for_openid_is_refused(rp: RelyingParty, browser: Browser) -> None:
    page = browser.get(f"{rp.meta['authorization_endpoint']}?client_id={rp.creds['client_id']}"
                       "&response_type=code&scope=openid&code_challenge=" + "a" * 43 + "&code_challenge_method=S256")
    assert page.status_code == 400 and "Location" not in page.headers


def test_unsupported_response_type_and_request_objects(rp: RelyingParty, browser: Browser) -> None:
    url, _ = rp.authorization_url()
    assert callback_params(browser.get(url.replace("response_type=code", "response_type=token")))["error"] \
        == "unsupported_response_type"
    assert callback_params(browser.get(url + "&request=eyJhbGciOiJub25lIn0.e30."))["error"] == "request_not_supported"


def test_oversized_and_repeated_parameters(rp: RelyingParty, browser: Browser) -> None:
    url, _ = rp.authorization_url()
    params = callback_params(browser.get(url + "&login_hint=" + "x" * 5000))
    assert params["error"] == "invalid_request"
    assert callback_params(browser.get(url + "&scope=openid"))["error"] == "invalid_request"
    huge = requests.post(rp.meta["token_endpoint"], data={"grant_type": "x" * 200_000}, timeout=5)
    assert huge.status_code == 413 and huge.json()["error"] == "invalid_request"
    assert _token(rp, {"grant_type": "refresh_token", "refresh_token": "r" * 5000}).json()["error"] == "invalid_grant"


def test_bad_claims_parameter_and_max_age(rp: RelyingParty, browser: Browser) -> None:
    url, _ = rp.authorization_url()
    assert callback_params(browser.get(url + "&claims=%7Bnot-json"))["error"] == "invalid_request"
    assert callback_params(browser.get(url + "&claims=%5B1%5D"))["error"] == "invalid_request"
    assert callback_params(browser.get(url + "&max_age=-5"))["error"] == "invalid_request"


def test_unsupported_grant_types(rp: RelyingParty) -> None:
    assert _token(rp, {"grant_type": "password", "username": "a", "password": "b"}).json()["error"] \
        == "unsupported_grant_type"
    assert _token(rp, {"grant_type": "implicit"}).json()["error"] == "unsupported_grant_type"


def _forged_hint(rp: RelyingParty, alg: str) -> str:
    claims = {"iss": rp.hub.issuer, "aud": rp.creds["client_id"], "sub": "x", "exp": 9999999999, "iat": 1}
    if alg == "none":
        enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
        return f"{enc({'alg': 'none'})}.{enc(claims)}."
    # HS256 keyed with the published RSA public key: the classic algorithm-confusion attack.
    pub = requests.get(rp.meta["jwks_uri"], timeout=5).json()["keys"][0]
    key = OctKey.import_key(json.dumps(pub).encode())
    return jwt.encode({"alg": "HS256"}, claims, key, algorithms=["HS256"])


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_forged_id_token_hints_are_refused(rp: RelyingParty, browser: Browser, alg: str) -> None:
    hint = _forged_hint(rp, alg)
    r = browser.get(f"{rp.meta['end_session_endpoint']}?id_token_hint={hint}"
                    "&post_logout_redirect_uri=https://network.example/bye&state=z")
    assert r.status_code == 400 and "Location" not in r.headers


def test_userinfo_without_or_with_a_bad_token(rp: RelyingParty) -> None:
    r = requests.get(rp.meta["userinfo_endpoint"], timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = requests.get(rp.meta["userinfo_endpoint"], headers={"Authorization": "Bearer nope"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


def test_client_credentials_token_cannot_read_userinfo(rp: RelyingParty) -> None:
    tok = _token(rp, {"grant_type": "client_credentials"}).json()
    r = requests.get(rp.meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tok['access_token']}"},
                     timeout=5)
    assert r.status_code in (401, 403)


def test_error_responses_leak_nothing_internal(rp: RelyingParty) -> None:
    for path in ("/token", "/introspect", "/revoke"):
        r = requests.post(rp.hub.issuer + path, data={"token": "x"}, timeout=5)
        assert r.status_code in (400, 401) and "Traceback" not in r.text
    assert requests.get(rp.hub.issuer + "/token", timeout=5).status_code == 405
    assert requests.get(rp.hub.issuer + "/nope", timeout=5).status_code == 404


def test_login_form_replayed_from_another_browser_is_refused(rp: RelyingParty, running_hub: RunningHub) -> None:
    url, _ = rp.authorization_url()
    page = Browser(running_hub).get(url)
    stranger = Browser(running_hub)
    r = stranger.login(page, running_hub.doctor().email)
    assert r.status_code == 400 and "expired" in r.text


def test_sign_in_is_throttled_per_account(rp: RelyingParty, running_hub: RunningHub, browser: Browser) -> None:
    doctor = running_hub.doctor()
    url, _ = rp.authorization_url()
    page = browser.get(url)
    statuses = []
    for _ in range(running_hub.hub.settings.login_max_per_account + 1):
        statuses.append(browser.login(page, doctor.email, "wrong password!").status_code)
    assert statuses[0] == 401 and statuses[-1] == 429
    # Even the right password is refused while throttled.
    assert browser.login(page, doctor.email).status_code == 429
    assert parse_qs(urlsplit(url).query)  # the flow itself stayed valid


def test_successful_sign_ins_never_lock_a_doctor_out(rp: RelyingParty, running_hub: RunningHub,
                                                     browser: Browser) -> None:
    doctor = running_hub.doctor()
    settings = running_hub.hub.settings
    # A typo or few from a browser new to the account (counted per account and address)...
    for _ in range(settings.login_max_per_account_address - 1):
        url, _ = rp.authorization_url(prompt="login")
        assert browser.login(browser.get(url), doctor.email, "wrong password!").status_code == 401
    for _ in range(settings.login_max_per_account + 2):  # ...then more sign-ins than a limit, each one successful
        url, _ = rp.authorization_url(prompt="login")
        assert "code" in callback_params(browser.through(browser.get(url), doctor.email))
    url, _ = rp.authorization_url(prompt="login")  # and the count starts again from zero
    page = browser.get(url)
    limit = settings.login_max_per_device  # the browser now holds the account's device cookie
    assert [browser.login(page, doctor.email, "wrong password!").status_code
            for _ in range(limit)] == [401] * limit


def test_the_sign_in_pages_refuse_bad_requests_with_a_page(running_hub: RunningHub) -> None:
    base = running_hub.issuer
    wrong = requests.get(f"{base}/login", timeout=5)
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert "Not allowed" in wrong.text and wrong.headers["X-Frame-Options"] == "DENY"
    nul = requests.get(f"{base}/authorize?client_id=a%00b", timeout=5)
    assert nul.status_code == 400 and "NUL" in nul.text
    assert "default-src 'none'" in nul.headers["Content-Security-Policy"]
    huge = requests.post(f"{base}/consent", data={"pending": "x" * 70_000}, timeout=5)
    assert huge.status_code == 413 and "too large" in huge.text
    assert requests.options(f"{base}/authorize", timeout=5).headers["Allow"] == "GET, HEAD, POST, OPTIONS"
    head = requests.head(f"{base}/authorize?client_id=nobody", timeout=5)
    assert head.status_code == 400 and head.text == ""


def test_unsupported_response_mode_is_refused(rp: RelyingParty, browser: Browser) -> None:
    url, _ = rp.authorization_url()
    for mode in ("form_post", "fragment", "jwt"):
        params = callback_params(browser.get(url + f"&response_mode={mode}"))
        assert params["error"] == "invalid_request" and "response mode" in params["error_description"]


def test_client_credentials_refuses_user_scopes(rp: RelyingParty) -> None:
    for scope in ("openid", "profile email", "offline_access"):
        r = _token(rp, {"grant_type": "client_credentials", "scope": scope})
        assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    assert _token(rp, {"grant_type": "client_credentials"}).status_code == 200


def test_token_answers_carry_the_hubs_headers_and_refuse_nul(rp: RelyingParty) -> None:
    """The token endpoint (the protocol app, hub/protocol/app.py) answers like every endpoint."""
    nul = _token(rp, {"grant_type": "client_credentials", "scope": "a\x00b"})
    assert nul.status_code == 400 and nul.json()["error"] == "invalid_request"
    ok = _token(rp, {"grant_type": "client_credentials"})
    assert ok.status_code == 200 and ok.json()["token_type"].lower() == "bearer"
    bad = _token(rp, {"grant_type": "client_credentials"}, auth=("nobody", "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    for resp in (nul, ok, bad):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
    wrong_method = requests.get(rp.meta["token_endpoint"], timeout=5)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "invalid_request"


def test_userinfo_answers_carry_the_hubs_headers_and_refuse_nul(rp: RelyingParty, browser: Browser) -> None:
    """Userinfo (the protocol app too): same headers, NUL refusal and errors."""
    token = rp.exchange(_code(rp, browser))["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    url = rp.meta["userinfo_endpoint"]
    ok_get = requests.get(url, headers=bearer, timeout=5)
    ok_post = requests.post(url, headers=bearer, data={"x": "1"}, timeout=5)
    assert ok_get.status_code == ok_post.status_code == 200
    assert ok_get.json() == ok_post.json() and ok_get.json()["sub"]
    nul = requests.post(url, headers=bearer, data={"x": "a\x00b"}, timeout=5)
    assert nul.status_code == 400 and nul.json()["error"] == "invalid_request"
    empty = requests.get(url, headers={"Authorization": "Bearer "}, timeout=5)
    assert empty.status_code in (400, 401) and "error" in empty.json()
    for resp in (ok_get, ok_post, nul, empty):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert resp.headers["Content-Type"].startswith("application/json")
    wrong_method = requests.delete(url, headers=bearer, timeout=5)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "invalid_request"
