"""Answers schemathesis found outside the specs, pinned with plain requests."""

from __future__ import annotations

import requests

from tests.protocol.conftest import Credentials


def test_userinfo_with_no_bearer_token_gets_a_bare_bearer_challenge(credentials: Credentials) -> None:
    """RFC 6750 §3.1: a request without a bearer token (another scheme, an empty token, an
    empty form field) gets 401 and a Bearer challenge with no error code, not Authlib's
    unsupported_token_type, which no spec defines."""
    url = f"{credentials.hub.issuer}/userinfo"
    answers = [
        requests.get(url, headers={"Authorization": "Basic YTpi"}, timeout=5),
        requests.get(url, headers={"Authorization": "Bearer "}, timeout=5),
        requests.post(url, data={"access_token": ""}, timeout=5),
    ]
    for resp in answers:
        assert resp.status_code == 401, resp.text
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="curbside"'
        assert resp.json()["error"] == "invalid_request"
    # A real token still works after all of that.
    ok = requests.get(url, headers={"Authorization": f"Bearer {credentials.access_token}"}, timeout=5)
    assert ok.status_code == 200 and ok.json()["sub"]


def test_feed_refuses_a_limit_that_is_not_a_number(credentials: Credentials) -> None:
    name, value = credentials.session_cookie
    url = f"{credentials.hub.issuer}/api/feed"
    bad = requests.get(url, params={"limit": "null"}, cookies={name: value}, timeout=5)
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_request"
    good = requests.get(url, params={"limit": "5"}, cookies={name: value}, timeout=5)
    assert good.status_code == 200
    assert good.json()["version"] == "https://jsonfeed.org/version/1.1"
