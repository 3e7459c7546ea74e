"""Pushed Authorization Requests (RFC 9126) through real sockets: a federation member that
pushes its request with private_key_jwt joins by its trust chain and signs a doctor in with
the one-time request_uri (OpenID Federation 1.0 section 12.1.1.2); an ordinary client pushes
with its secret; misuse of a request_uri or of the push is refused with a standard error."""

from __future__ import annotations

import html
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt

from tests.flows.conftest import Browser, RunningHub, callback_params
from tests.flows.federation_net import Member, PartnerBackEnd, fed_hub, net, new_network

__all__ = ["fed_hub", "net"]  # the fixtures
PREFIX = "urn:ietf:params:oauth:request_uri:"


def _assertion(hub: RunningHub, rp: Member) -> str:
    """RFC 7523 §2.2 client assertion, audience the issuer (RFC 9126 §2)."""
    assert rp.oauth_key is not None
    now = int(time.time())
    return jwt.encode({"alg": "RS256", "kid": rp.oauth_key.kid},
                      {"iss": rp.id, "sub": rp.id, "aud": hub.issuer, "jti": secrets.token_urlsafe(16),
                       "iat": now, "exp": now + 120}, rp.oauth_key)


def _push(hub: RunningHub, partner: PartnerBackEnd, **over: Any) -> requests.Response:
    partner.state, partner.nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    partner.verifier = secrets.token_urlsafe(48)
    form = {"client_id": partner.rp.id, "response_type": "code", "scope": "openid profile",
            "redirect_uri": partner.redirect_uri, "state": partner.state, "nonce": partner.nonce,
            "code_challenge": create_s256_code_challenge(partner.verifier),
            "code_challenge_method": "S256",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": _assertion(hub, partner.rp), **over}
    return requests.post(f"{hub.issuer}/par", data={k: v for k, v in form.items() if v is not None},
                         timeout=10)


def _authorize(hub: RunningHub, client_id: str, request_uri: str) -> str:
    return f"{hub.issuer}/authorize?" + urlencode({"client_id": client_id, "request_uri": request_uri})


def test_a_member_pushes_its_request_and_signs_a_doctor_in(fed_hub: RunningHub, net: Any) -> None:
    assert fed_hub.metadata()["pushed_authorization_request_endpoint"] == f"{fed_hub.issuer}/par"
    rp = new_network(net, "pusher")
    partner = PartnerBackEnd(fed_hub, rp)
    pushed = _push(fed_hub, partner)
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["Cache-Control"] == "no-store"
    body = pushed.json()
    assert body["request_uri"].startswith(PREFIX) and 0 < body["expires_in"] <= 600
    assert fed_hub.hub.clients.get(rp.id) is not None  # joined by its chain at the push

    browser = Browser(fed_hub)
    done = browser.through(browser.get(_authorize(fed_hub, rp.id, body["request_uri"])),
                           fed_hub.doctor().email)
    params = callback_params(done)
    assert params["state"] == partner.state
    assert partner.token(params["code"])["id_token"]

    # RFC 9126 §4: used once.
    again = Browser(fed_hub).get(_authorize(fed_hub, rp.id, body["request_uri"]))
    assert again.status_code == 400 and "invalid_request_uri" in again.text


def test_a_pushed_request_object_is_verified_like_one_sent_through_the_browser(
        fed_hub: RunningHub, net: Any) -> None:
    rp = new_network(net, "pusher-ro")
    partner = PartnerBackEnd(fed_hub, rp)
    ro = partner.request_object()
    pushed = requests.post(f"{fed_hub.issuer}/par", timeout=10, data={
        "client_id": rp.id, "request": ro,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": _assertion(fed_hub, rp)})
    assert pushed.status_code == 201, pushed.text
    browser = Browser(fed_hub)
    done = browser.through(browser.get(_authorize(fed_hub, rp.id, pushed.json()["request_uri"])),
                           fed_hub.doctor().email)
    assert callback_params(done)["state"] == partner.state
    replay = requests.post(f"{fed_hub.issuer}/par", timeout=10, data={
        "client_id": rp.id, "request": ro,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": _assertion(fed_hub, rp)})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_request_object"


def test_an_ordinary_client_pushes_with_its_secret(fed_hub: RunningHub) -> None:
    creds = fed_hub.client(client_name="Pushing Network")
    verifier = secrets.token_urlsafe(48)
    pushed = requests.post(f"{fed_hub.issuer}/par", auth=(creds["client_id"], creds["client_secret"]),
                           timeout=10, data={
                               "client_id": creds["client_id"], "response_type": "code", "scope": "openid",
                               "redirect_uri": creds["redirect_uris"][0], "state": "s1", "nonce": "n1",
                               "code_challenge": create_s256_code_challenge(verifier),
                               "code_challenge_method": "S256"})
    assert pushed.status_code == 201, pushed.text
    browser = Browser(fed_hub)
    done = browser.through(browser.get(_authorize(fed_hub, creds["client_id"], pushed.json()["request_uri"])),
                           fed_hub.doctor().email)
    assert callback_params(done)["state"] == "s1"


def test_pushes_that_are_refused(fed_hub: RunningHub, net: Any) -> None:
    rp = new_network(net, "pusher-bad")
    partner = PartnerBackEnd(fed_hub, rp)
    unauthenticated = _push(fed_hub, partner, client_assertion=None, client_assertion_type=None)
    assert unauthenticated.status_code == 401 and unauthenticated.json()["error"] == "invalid_client"
    elsewhere = _push(fed_hub, partner, redirect_uri="https://attacker.example/cb")
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_request"
    nested = _push(fed_hub, partner, request_uri=PREFIX + "x")
    assert nested.status_code == 400 and nested.json()["error"] == "invalid_request"
    stranger = new_network(net, "stranger", superior=net.authority(f"rogue-{secrets.token_hex(3)}"))
    unknown = _push(fed_hub, PartnerBackEnd(fed_hub, stranger))
    assert unknown.status_code == 404 and unknown.json()["error"] == "invalid_trust_anchor"


def test_a_request_uri_is_bound_to_its_client(fed_hub: RunningHub, net: Any) -> None:
    rp, other = new_network(net, "pusher-owner"), new_network(net, "pusher-other")
    pushed = _push(fed_hub, PartnerBackEnd(fed_hub, rp))
    assert pushed.status_code == 201
    stolen = Browser(fed_hub).get(_authorize(fed_hub, other.id, pushed.json()["request_uri"]))
    assert stolen.status_code == 400 and "invalid_request_uri" in stolen.text
    unknown = Browser(fed_hub).get(_authorize(fed_hub, rp.id, PREFIX + "no-such-request"))
    assert unknown.status_code == 400 and "invalid_request_uri" in unknown.text


def test_the_passkey_pages_way_back_restarts_a_members_request_without_spelling_it_out(
        fed_hub: RunningHub, net: Any) -> None:
    """"Use your email address and password instead" on the passkey page starts the same
    request again. A member's request was verified from its request object, which
    /authorize needs again (section 12.1.1), and a pushed request's parameters stay off the
    browser (RFC 9126 §1): the way back is a one-time request_uri, not the parameters."""
    rp = new_network(net, "passkey-back")
    partner = PartnerBackEnd(fed_hub, rp)
    browser = Browser(fed_hub)
    hint = "ann.back@example.org"
    login = browser.get(partner.authorization_url(partner.request_object(login_hint=hint)))
    assert 'action="/login"' in login.text, login.text[:300]
    pending = Browser.hidden(login)["pending"]
    page = browser.get(f"{fed_hub.issuer}/login/passkey?pending={pending}")
    assert page.status_code == 200 and "ann.back" not in page.text
    back = browser.get(fed_hub.issuer + html.unescape(re.search(r'<a href="([^"]*)">Use your email',
                                                                page.text).group(1)))
    assert back.status_code == 303 and "ann.back" not in back.headers["Location"]
    assert PREFIX.replace(":", "%3A") in back.headers["Location"]
    again = browser.get(fed_hub.issuer + back.headers["Location"])
    assert again.status_code == 200 and 'action="/login"' in again.text, again.text[:500]
    done = browser.through(again, fed_hub.doctor().email)
    assert callback_params(done)["state"] == partner.state
    # The way back is one-time, and another browser cannot take it.
    assert Browser(fed_hub).get(fed_hub.issuer + back.headers["Location"]).status_code == 400
    stranger = Browser(fed_hub).get(f"{fed_hub.issuer}/login/passkey/back?pending={pending}")
    assert stranger.status_code == 400 and "request_uri" not in stranger.headers.get("Location", "")
