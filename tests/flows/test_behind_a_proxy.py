"""Behind a reverse proxy (CURBSIDE_TRUSTED_PROXIES), the client address is the one the
proxy saw: throttling per address and the audit log see doctors, not the proxy."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.flows.conftest import PASSWORD, make_settings

PENDING = re.compile(r'name="pending" value="([^"]+)"')


def _attempts(backend: Any, tmp: Any, trusted: int, tries: list[tuple[str, str, str]]) -> list[int]:
    """(forwarded address, email, password) through a proxy at 10.0.0.2; the login answers.
    The email DOCTOR stands for a doctor created here."""
    from hub import create_app

    app = create_app(make_settings(backend, tmp, issuer="http://127.0.0.1:9", trusted_proxies=trusted,
                                   login_max_per_address=2),
                     store_prefix=f"px{trusted}{backend.redis_prefix}{len(tries)}:")
    hub = app.extensions["curbside"]
    doctor = hub.accounts.create(email=f"anna-{secrets.token_hex(4)}@example.org", password=PASSWORD)
    creds = hub.clients.create({"client_name": "P", "redirect_uris": ["https://p.example/cb"],
                                "grant_types": ["authorization_code"]}, status="active")
    query = urlencode({"response_type": "code", "client_id": creds["client_id"], "scope": "openid",
                       "redirect_uri": "https://p.example/cb", "code_challenge": "x" * 43,
                       "code_challenge_method": "S256", "prompt": "login"})
    statuses = []
    for forwarded, email, password in tries:
        client = app.test_client()
        headers = {"X-Forwarded-For": forwarded}
        page = client.get(f"/authorize?{query}", headers=headers)
        pending = PENDING.search(page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
        r = client.post("/login", data={"pending": pending, "password": password,
                                         "email": doctor.email if email == "DOCTOR" else email},
                        headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})  # the proxy
        statuses.append(r.status_code)
    return statuses


WRONG = "wrong password!"


@pytest.mark.parametrize("trusted", [0, 1])
def test_throttling_sees_the_address_the_proxy_forwarded(backend: Any, database: Any, tmp_path: Any,
                                                         trusted: int) -> None:
    statuses = _attempts(backend, tmp_path, trusted, [("198.51.100.1", "nobody@example.org", WRONG)] * 3
                         + [("203.0.113.9", "nobody@example.org", WRONG)])
    if trusted:  # the third attempt from one doctor's address is throttled, not the next doctor
        assert statuses == [401, 401, 429, 401]
    else:  # the header is not believed: every attempt comes from the proxy
        assert statuses == [401, 401, 429, 429]


def test_only_failures_count_against_an_address(backend: Any, database: Any, tmp_path: Any) -> None:
    """A whole hospital signs in from one address: its doctors' successes never trip it."""
    ok = ("198.51.100.7", "DOCTOR", PASSWORD)
    statuses = _attempts(backend, tmp_path, 1, [ok, ok, ok, ("198.51.100.7", "DOCTOR", WRONG),
                                                 ok, ok, ("198.51.100.7", "x@example.org", WRONG), ok])
    # 200: the consent page after a right password; then two failures close the address.
    assert statuses == [200, 200, 200, 401, 200, 200, 401, 429]


def test_protocol_endpoints_work_behind_a_tls_proxy_the_server_does_not_trust(
        backend: Any, database: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issuer is https; the proxy in front speaks http to the hub, and gunicorn was not
    told to believe its X-Forwarded-Proto. Authlib refuses http request URIs, so the hub
    hands it the issuer's."""
    import base64

    from hub import create_app

    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)  # set by the demo hubs
    app = create_app(make_settings(backend, tmp_path, issuer="https://id.example.org",
                                   insecure_transport=False), store_prefix=f"tls{backend.redis_prefix}:")
    creds = app.extensions["curbside"].clients.create(
        {"client_name": "B", "redirect_uris": ["https://b.example/cb"],
         "grant_types": ["client_credentials"]}, status="active")
    basic = {"Authorization": "Basic " + base64.b64encode(
        f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()}
    client = app.test_client()  # plain http to the hub's own name, as from the proxy
    http = {"base_url": "http://hub.internal:5000"}  # not loopback, which Authlib lets through
    token = client.post("/token", data={"grant_type": "client_credentials"}, headers=basic, **http)
    assert token.status_code == 200, token.get_json()
    seen = client.post("/introspect", data={"token": token.get_json()["access_token"]}, headers=basic,
                       **http)
    assert seen.status_code == 200 and seen.get_json()["active"] is True
    assert client.post("/revoke", data={"token": "x"}, headers=basic, **http).status_code == 200
