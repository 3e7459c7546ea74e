"""A partner network signs a doctor in through a real client library over a real socket."""

from __future__ import annotations

import requests

from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params


def test_discovery_advertises_the_code_flow_with_caching(running_hub: RunningHub) -> None:
    r = requests.get(f"{running_hub.issuer}/.well-known/openid-configuration", timeout=5)
    meta = r.json()
    assert meta["issuer"] == running_hub.issuer
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "max-age" in r.headers["Cache-Control"]
    jw = requests.get(meta["jwks_uri"], timeout=5)
    assert "max-age" in jw.headers["Cache-Control"]
    assert {k["alg"] for k in jw.json()["keys"]} >= {"RS256", "ES256", "EdDSA", "Ed25519"}
    assert all("d" not in k for k in jw.json()["keys"])  # never a private part
    again = requests.get(meta["jwks_uri"], headers={"If-None-Match": jw.headers["ETag"]}, timeout=5)
    assert again.status_code == 304


def test_full_sign_in_with_pkce_id_token_and_userinfo(running_hub: RunningHub, browser: Browser) -> None:
    doctor = running_hub.doctor(given_name="Jan", family_name="Jansen")
    rp = RelyingParty(running_hub, running_hub.client())
    token = rp.sign_in(browser, doctor.email)
    claims = rp.validate_id_token(token["id_token"])
    assert claims["sub"] != doctor.id  # pairwise by default
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == "urn:curbside:acr:pwd"
    assert claims["email"] == doctor.email
    assert "refresh_token" not in token  # no offline_access asked
    ui = requests.get(rp.meta["userinfo_endpoint"],
                      headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5).json()
    assert ui == {"sub": claims["sub"], "name": "Jan Jansen", "given_name": "Jan",
                  "family_name": "Jansen", "email": doctor.email, "email_verified": True}
    post = requests.post(rp.meta["userinfo_endpoint"],
                         headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5)
    assert post.json() == ui
    # RFC 6750 §2.2, the token in the form body (pyoidc's default): the same answer...
    in_body = requests.post(rp.meta["userinfo_endpoint"],
                            data={"access_token": token["access_token"]}, timeout=5)
    assert in_body.status_code == 200 and in_body.json() == ui
    # ...but not in both places at once (§3.1), and a bad one is a bad token.
    both = requests.post(rp.meta["userinfo_endpoint"], data={"access_token": token["access_token"]},
                         headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5)
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    bad = requests.post(rp.meta["userinfo_endpoint"], data={"access_token": "nope"}, timeout=5)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"


def test_consent_is_remembered_and_silent_sso_works(running_hub: RunningHub, browser: Browser) -> None:
    doctor = running_hub.doctor()
    rp = RelyingParty(running_hub, running_hub.client())
    rp.sign_in(browser, doctor.email)
    url, _ = rp.authorization_url(prompt="none")
    resp = browser.get(url)
    token = rp.exchange(callback_params(resp))
    assert rp.validate_id_token(token["id_token"])["email"] == doctor.email


def test_pairwise_subjects_differ_between_networks(running_hub: RunningHub, browser: Browser) -> None:
    doctor = running_hub.doctor()
    a = RelyingParty(running_hub, running_hub.client(redirect_uris=["https://a.example/cb"]))
    b = RelyingParty(running_hub, running_hub.client(redirect_uris=["https://b.example/cb"]))
    pub = RelyingParty(running_hub, running_hub.client(redirect_uris=["https://c.example/cb"],
                                                       subject_type="public"))
    sa = a.validate_id_token(a.sign_in(browser, doctor.email)["id_token"])["sub"]
    sb = b.validate_id_token(b.sign_in(browser, doctor.email)["id_token"])["sub"]
    sp = pub.validate_id_token(pub.sign_in(browser, doctor.email)["id_token"])["sub"]
    # A public sub is never the account id (OIDC Core §8; tests/flows/test_subjects.py).
    assert sa != sb and sp not in (sa, sb, doctor.id)


def test_browser_clients_may_call_token_and_userinfo_cross_origin(running_hub: RunningHub) -> None:
    meta = running_hub.metadata()
    for url in (meta["token_endpoint"], meta["userinfo_endpoint"], meta["revocation_endpoint"]):
        pre = requests.options(url, headers={"Origin": "https://spa.example",
                                             "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "authorization"}, timeout=5)
        assert pre.status_code in (200, 204)
        assert pre.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
        assert "Access-Control-Allow-Credentials" not in pre.headers
    r = requests.post(meta["token_endpoint"], data={"grant_type": "client_credentials"},
                      headers={"Origin": "https://spa.example"}, timeout=5)
    assert r.headers["Access-Control-Allow-Origin"] == "*" and r.status_code in (400, 401)
    # The sign-in pages are not readable cross-origin.
    page = requests.get(f"{running_hub.issuer}/account", headers={"Origin": "https://spa.example"}, timeout=5)
    assert "Access-Control-Allow-Origin" not in page.headers


def test_a_cross_site_post_authorization_request_sees_the_sso_session(
        running_hub: RunningHub, browser: Browser) -> None:
    """OIDC Core §3.1.2.1: the OP accepts POST. A partner's cross-site form POST carries no
    SameSite=Lax cookie; answered as a top-level GET, silent SSO still works."""
    from urllib.parse import parse_qsl, urlsplit

    doctor = running_hub.doctor()
    rp = RelyingParty(running_hub, running_hub.client())
    rp.sign_in(browser, doctor.email)
    url, _ = rp.authorization_url(prompt="none")
    form = dict(parse_qsl(urlsplit(url).query))
    cross_site = requests.post(rp.meta["authorization_endpoint"], data=form, allow_redirects=False, timeout=5)
    assert cross_site.status_code == 303 and cross_site.headers["Location"].startswith("/authorize?")
    token = rp.exchange(callback_params(browser.get(running_hub.issuer + cross_site.headers["Location"])))
    assert rp.validate_id_token(token["id_token"])["email"] == doctor.email
    # A same-site POST (the cookie comes along) is answered directly.
    url, _ = rp.authorization_url(prompt="none")
    same_site = browser.post(rp.meta["authorization_endpoint"], dict(parse_qsl(urlsplit(url).query)))
    assert "code" in callback_params(same_site)
