"""A live hub on a real socket and the credentials that get a client past each auth check."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.flows.conftest import Browser, RelyingParty, RunningHub
from tests.flows.conftest import running_hub as running_hub  # noqa: F401 (the session fixture)


@dataclass
class Credentials:
    """Real credentials of every kind the JSON endpoints take."""

    hub: RunningHub
    client: dict[str, Any]            # an active confidential client (Basic / post)
    public_client: dict[str, Any]     # an active public client (token_endpoint_auth_method none)
    tokens: dict[str, Any]            # a doctor's tokens (openid profile email offline_access)
    session_cookie: tuple[str, str]   # the doctor's sign-in cookie (name, value)
    initial_access_token: str         # RFC 7591 §3
    registered: dict[str, Any]        # a client registered through POST /register (RFC 7592 tokens)
    issued: float = field(default_factory=time.monotonic)

    @property
    def access_token(self) -> str:
        """The doctor's access token, refreshed when half its life is gone: the session
        fixture may be used minutes after it was made (xdist spreads the tests)."""
        if time.monotonic() - self.issued > self.tokens["expires_in"] / 2:
            resp = requests.post(f"{self.hub.issuer}/token", timeout=10,
                                 auth=(self.client["client_id"], self.client["client_secret"]),
                                 data={"grant_type": "refresh_token",
                                       "refresh_token": self.tokens["refresh_token"]})
            assert resp.status_code == 200, resp.text
            self.tokens, self.issued = resp.json(), time.monotonic()
        return str(self.tokens["access_token"])

    def register(self, **metadata: Any) -> dict[str, Any]:
        """A fresh registration, e.g. for a DELETE to remove."""
        body = {"client_name": "Schemathesis", "redirect_uris": ["https://dcr.example/cb"], **metadata}
        resp = requests.post(f"{self.hub.issuer}/register", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {self.initial_access_token}"})
        assert resp.status_code == 201, resp.text
        return dict(resp.json())


@pytest.fixture(scope="session")
def credentials(running_hub: RunningHub) -> Iterator[Credentials]:  # noqa: F811
    from hub.protocol.registration import issue_initial_token

    hub = running_hub
    email = f"openapi-{id(hub)}@example.org"
    hub.doctor(email=email)
    client = hub.client(client_name="OpenAPI confidential",
                        scope="openid profile email offline_access")
    public = hub.client(client_name="OpenAPI public", token_endpoint_auth_method="none",
                        grant_types=["authorization_code", "refresh_token"])
    browser = Browser(hub)
    rp = RelyingParty(hub, client, scope="openid profile email offline_access")
    tokens = rp.sign_in(browser, email)
    cookie_name = hub.hub.sessions.cookie_name
    iat = issue_initial_token(hub.hub, label="openapi tests", uses=100_000)
    creds = Credentials(hub, client, public, tokens, (cookie_name, browser.s.cookies[cookie_name]),
                        iat, {})
    creds.registered = creds.register()
    yield creds

