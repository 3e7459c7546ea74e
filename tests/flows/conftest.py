"""A real hub on a real socket, and a doctor's browser and partner apps to drive it."""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from hub import create_app
from hub.settings import Settings

PASSWORD = "correct horse battery"


class _Late:
    """A WSGI app set after the socket is bound, so the issuer can carry the real port."""

    app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


@dataclass
class RunningHub:
    issuer: str
    app: Any
    hub: Any

    def doctor(self, **kw: Any) -> Any:
        email = kw.pop("email", f"dr-{secrets.token_hex(4)}@example.org")
        return self.hub.accounts.create(email=email, password=PASSWORD, given_name=kw.pop("given_name", "Anna"),
                                        family_name=kw.pop("family_name", "de Vries"),
                                        email_verified=True, **kw)

    def client(self, **md: Any) -> dict[str, Any]:
        from hub.domain.client_metadata import validate_metadata

        md.setdefault("client_name", "Test Network")
        md.setdefault("redirect_uris", ["https://network.example/cb"])
        md.setdefault("post_logout_redirect_uris", ["https://network.example/bye"])
        md.setdefault("grant_types", ["authorization_code", "refresh_token", "client_credentials"])
        status = md.pop("status", "active")
        return self.hub.clients.create(validate_metadata(md), status=status)

    def metadata(self) -> dict[str, Any]:
        return requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=5).json()


# One secret key and key-encryption key per test process: every hub built on the same test
# database must decrypt the signing keys the others stored. Kept in the environment because
# pytest may import this module twice (as a conftest and by name).
_SECRET_KEY = os.environ.setdefault("CURBSIDE_TEST_SECRET_KEY", secrets.token_urlsafe(48))
_KEK = os.environ.setdefault(
    "CURBSIDE_TEST_KEK", __import__("cryptography.fernet", fromlist=["Fernet"]).Fernet.generate_key().decode())


def make_settings(backend: Any, tmp: Any, **over: Any) -> Settings:
    base = dict(issuer="http://placeholder", insecure_transport=True, database_url=backend.database_url,
                secret_key=_SECRET_KEY, key_encryption_keys=_KEK,
                store_url=backend.store_url, instance_dir=str(tmp), argon2_time_cost=1,
                argon2_memory_cost=1024, argon2_parallelism=1, client_cache_ttl=0,
                # Every test signs in from 127.0.0.1; the per-address limit would trip across
                # tests sharing a store. Per-account throttling is tested on its own.
                login_max_per_address=1_000_000)
    base.update(over)
    return Settings.from_env({}, **base)


@pytest.fixture(scope="session")
def running_hub(backend: Any, database: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    # The back-channel logout receivers of these tests listen on 127.0.0.1.
    yield from served_hub(backend, tmp_path_factory.mktemp("instance"), store_prefix="t",
                          outbound_allow_local=True)


def served_hub(backend: Any, instance: Any, *, store_prefix: str, issuer_host: str = "127.0.0.1",
               **settings: Any) -> Iterator[RunningHub]:
    """A hub on a free loopback port (its issuer names the port, so the server starts
    first and gets the app once it is built); for a fixture to ``yield from``."""
    late = _Late()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    issuer = f"http://{issuer_host}:{server.server_port}"
    app = create_app(make_settings(backend, instance, issuer=issuer, **settings),
                     store_prefix=f"{store_prefix}{backend.redis_prefix}:")
    hub = app.extensions["curbside"]
    hub.keys.ensure()
    late.app = app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield RunningHub(issuer, app, hub)
    server.shutdown()


_INPUT = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"')


@dataclass
class Browser:
    """A doctor's browser: cookies, and manual redirects so the test sees each hop."""

    hub: RunningHub
    s: requests.Session = field(default_factory=requests.Session)

    def get(self, url: str, **kw: Any) -> requests.Response:
        return self.s.get(url, allow_redirects=False, timeout=10, **kw)

    def post(self, url: str, data: dict[str, str]) -> requests.Response:
        return self.s.post(url, data=data, allow_redirects=False, timeout=10)

    @staticmethod
    def hidden(resp: requests.Response) -> dict[str, str]:
        return {k: v for k, v in _INPUT.findall(resp.text)}

    def login(self, page: requests.Response, email: str, password: str = PASSWORD) -> requests.Response:
        assert 'action="/login"' in page.text, page.text[:500]
        return self.post(f"{self.hub.issuer}/login", {**self.hidden(page), "email": email, "password": password})

    def through(self, page: requests.Response, email: str) -> requests.Response:
        """Answer the login and consent pages if they come; return the final redirect."""
        if 'action="/login"' in page.text:
            page = self.login(page, email)
        if 'action="/consent"' in page.text:
            page = self.consent(page)
        return page

    def consent(self, page: requests.Response, decision: str = "allow") -> requests.Response:
        assert 'action="/consent"' in page.text, page.text[:500]
        return self.post(f"{self.hub.issuer}/consent", {**self.hidden(page), "decision": decision})


def callback_params(resp: requests.Response) -> dict[str, str]:
    assert resp.status_code in (302, 303), (resp.status_code, resp.text[:500])
    q = parse_qs(urlsplit(resp.headers["Location"]).query)
    return {k: v[0] for k, v in q.items()}


@dataclass
class RelyingParty:
    """A partner network using Authlib's requests client: discovery, PKCE, JWKS validation."""

    hub: RunningHub
    creds: dict[str, Any]
    scope: str = "openid profile email"

    def __post_init__(self) -> None:
        self.meta = self.hub.metadata()
        method = self.creds.get("token_endpoint_auth_method", "client_secret_basic")
        self.session = OAuth2Session(self.creds["client_id"], self.creds.get("client_secret"),
                                     scope=self.scope, redirect_uri=self.creds["redirect_uris"][0],
                                     code_challenge_method="S256", token_endpoint_auth_method=method)

    def authorization_url(self, **extra: Any) -> tuple[str, dict[str, str]]:
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(16)
        url, state = self.session.create_authorization_url(
            self.meta["authorization_endpoint"], code_verifier=self.verifier, nonce=self.nonce, **extra)
        self.state = state
        return url, {"state": state}

    def exchange(self, params: dict[str, str]) -> dict[str, Any]:
        assert params.get("state") == self.state
        assert params.get("iss") == self.hub.issuer  # RFC 9207
        return dict(self.session.fetch_token(self.meta["token_endpoint"], code=params["code"],
                                             code_verifier=self.verifier))

    def validate_id_token(self, id_token: str, *, nonce: str | None = "auto") -> dict[str, Any]:
        jwks = KeySet.import_key_set(requests.get(self.meta["jwks_uri"], timeout=5).json())
        algs = self.meta["id_token_signing_alg_values_supported"]
        decoded = jwt.decode(id_token, jwks, algorithms=algs)
        claims = CodeIDToken(decoded.claims, decoded.header,
                             {"iss": {"value": self.hub.issuer}, "aud": {"value": self.creds["client_id"]},
                              "nonce": {"value": self.nonce if nonce == "auto" else nonce}})
        claims.validate()
        return dict(decoded.claims)

    def sign_in(self, browser: Browser, email: str, **extra: Any) -> dict[str, Any]:
        url, _ = self.authorization_url(**extra)
        return self.exchange(callback_params(browser.through(browser.get(url), email)))


@pytest.fixture
def browser(running_hub: RunningHub) -> Browser:
    return Browser(running_hub)
