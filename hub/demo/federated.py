"""A demo federation: a trust anchor that vouches for one partner network, and that network
joining the hub by OpenID Federation 1.0 automatic registration (section 12.1).

Nobody registers the network at the hub and no admin approves it: it publishes its entity
configuration at ``/.well-known/openid-federation``, its ``client_id`` is its entity id, it
signs a request object and authenticates with ``private_key_jwt``; the hub resolves its
trust chain to the anchor it is told to trust (``CURBSIDE_FEDERATION_TRUST_ANCHORS``) and
signs the doctor in. Like ``network.py`` it imports nothing from the hub (the framework-free
``federation`` library builds its statements, Authlib and joserfc do the OAuth side).

Keys live in the demo's instance folder, so a restarted demo is still the same federation
(the hub caches a resolved chain until it expires).
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask, Response, redirect, render_template_string, request, session, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from federation import (
    ENTITY_STATEMENT_MEDIA_TYPE,
    WELL_KNOWN_PATH,
    build_entity_configuration,
    build_subordinate_statement,
)

LIFETIME = 3600
SCOPE = "openid profile email https://curbside.health/scopes/physician"


class DemoKeys:
    """The federation's keys, kept as private JWKs in one JSON file of the instance folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def ec(self, name: str) -> ECKey:
        if name not in self._saved:
            self._save(name, ECKey.generate_key("P-256", auto_kid=True, private=True))
        return ECKey.import_key(self._saved[name])

    def rsa(self, name: str) -> RSAKey:
        if name not in self._saved:
            self._save(name, RSAKey.generate_key(2048, auto_kid=True, private=True))
        return RSAKey.import_key(self._saved[name])

    def _save(self, name: str, key: Any) -> None:
        self._saved[name] = key.as_dict(private=True)
        self.path.write_text(json.dumps(self._saved))
        self.path.chmod(0o600)


ANCHOR_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo Medical Federation</title></head>
<body><h1>Demo Medical Federation: trust anchor</h1>
<p>This is the entity id <code>{{ entity_id }}</code> of the demo federation's trust anchor.
Curbside trusts its key, so it trusts every network the anchor vouches for.</p>
<p>Its entity configuration (a signed JWT): <a href="{{ entity_id }}{{ well_known }}">{{ well_known }}</a></p>
<p>Networks it vouches for:</p><ul>{% for sub in subordinates %}
<li><a href="{{ sub }}/">{{ sub }}</a>
(<a href="{{ entity_id }}/fetch?sub={{ sub|urlencode }}">its subordinate statement</a>)</li>
{% endfor %}</ul></body></html>"""


def create_anchor_app(*, entity_id: str, key: ECKey, subordinates: dict[str, dict[str, Any]]) -> Flask:
    """A trust anchor (section 1.2) with its entity configuration and fetch endpoint.
    ``subordinates``: entity id → that entity's federation JWKS."""
    app = Flask("demo-trust-anchor")

    def statement(body: str) -> Response:
        return Response(body, mimetype=ENTITY_STATEMENT_MEDIA_TYPE)

    @app.get("/")
    def index() -> str:
        # The demo prints the anchor's entity id, and a newcomer opens it: a page that says
        # what it is, rather than a 404 (an entity id need not resolve to anything).
        return render_template_string(ANCHOR_PAGE, entity_id=entity_id,
                                      well_known=WELL_KNOWN_PATH, subordinates=sorted(subordinates))

    @app.get(WELL_KNOWN_PATH)
    def configuration() -> Response:
        return statement(build_entity_configuration(
            entity_id, key=key, now=int(time.time()), lifetime=LIFETIME, metadata={
                "federation_entity": {"federation_fetch_endpoint": f"{entity_id}/fetch",
                                      "organization_name": "Demo Medical Federation"}}))

    @app.get("/fetch")
    def fetch() -> Any:
        sub = request.args.get("sub", "")
        if not sub:  # section 8.9: a missing parameter is invalid_request
            return {"error": "invalid_request", "error_description": "sub is required"}, 400
        if sub not in subordinates:  # section 8.9: an unknown subject is not_found
            return {"error": "not_found", "error_description": "not a subordinate"}, 404
        return statement(build_subordinate_statement(
            entity_id, sub, key=key, subject_jwks=subordinates[sub], now=int(time.time()),
            lifetime=LIFETIME))

    return app


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ name }}</title>
<style>body{font:1.05rem/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#111}
a.button{display:inline-block;padding:.6rem 1rem;background:#1e3a8a;color:#fff;border-radius:.3rem;
text-decoration:none}pre{background:#f3f4f6;padding:1rem;overflow:auto;white-space:pre-wrap;word-break:break-word}</style>
</head><body><h1>{{ name }}</h1><p>A demo network in the Demo Medical Federation. Nobody registered it
at Curbside: it signs in with its entity id <code>{{ entity_id }}</code> as client id, and Curbside trusts
it because the federation's trust anchor vouches for it.</p>
{% if claims %}<p>Signed in as <strong>{{ claims.get('name') or claims.get('sub') }}</strong>.</p>
<h2>ID token claims</h2><pre>{{ claims|tojson(indent=2) }}</pre>
<h2>Userinfo</h2><pre>{{ userinfo|tojson(indent=2) }}</pre>
<p><a class="button" href="{{ url_for('home', out=1) }}">Sign out here</a></p>
{% else %}<p><a class="button" href="{{ url_for('login') }}">Sign in with Curbside</a></p>
{% if error %}<p role="alert">Curbside answered: {{ error }}</p>{% endif %}{% endif %}</body></html>"""


def create_federated_network_app(*, name: str, entity_id: str, issuer: str, anchor_id: str,
                                 federation_key: ECKey, oauth_key: RSAKey) -> Flask:
    """The partner network: a federation leaf with ``openid_relying_party`` metadata."""
    app = Flask("demo-federated-network")
    app.secret_key = secrets.token_bytes(32)
    app.config["SESSION_COOKIE_NAME"] = "net_federated"
    redirect_uri = f"{entity_id}/callback"
    metadata = {"openid_relying_party": {
        "client_name": name, "redirect_uris": [redirect_uri], "response_types": ["code"],
        "grant_types": ["authorization_code"], "scope": SCOPE,
        "token_endpoint_auth_method": "private_key_jwt",
        "client_registration_types": ["automatic"],
        "jwks": {"keys": [oauth_key.as_dict(private=False)]}}}

    def provider() -> dict[str, Any]:
        return dict(requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json())

    @app.get(WELL_KNOWN_PATH)
    def configuration() -> Response:
        return Response(build_entity_configuration(
            entity_id, key=federation_key, now=int(time.time()), lifetime=LIFETIME,
            metadata=metadata, authority_hints=[anchor_id]), mimetype=ENTITY_STATEMENT_MEDIA_TYPE)

    @app.get("/")
    def home() -> str:
        if request.args.get("out"):
            session.clear()
        return render_template_string(PAGE, name=name, entity_id=entity_id,
                                      claims=session.get("claims"),
                                      userinfo=session.get("userinfo"), error=session.pop("error", None))

    @app.get("/login")
    def login() -> Any:
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        verifier = secrets.token_urlsafe(48)  # RFC 7636 section 4.1: 43 to 128 characters
        session["pending"] = {"state": state, "nonce": nonce, "verifier": verifier}
        now = int(time.time())
        # Section 12.1.1.1: the request object is signed with a key of the RP's metadata,
        # with the RP's entity id as client_id and iss, and the OP as audience.
        request_object = jwt.encode({"alg": "RS256", "kid": oauth_key.kid}, {
            "iss": entity_id, "client_id": entity_id, "aud": issuer, "jti": secrets.token_urlsafe(16),
            "iat": now, "exp": now + 300, "response_type": "code", "scope": SCOPE,
            "redirect_uri": redirect_uri, "state": state, "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256"}, oauth_key)
        query = urlencode({"client_id": entity_id, "response_type": "code", "scope": SCOPE,
                           "request": request_object})
        try:
            endpoint = provider()["authorization_endpoint"]
        except (requests.RequestException, ValueError, KeyError):
            session["error"] = "Curbside's discovery document is not reachable"
            return redirect(url_for("home"))
        return redirect(f"{endpoint}?{query}")

    @app.get("/callback")
    def callback() -> Any:
        pending = session.pop("pending", None) or {}
        if "error" in request.args or not pending or request.args.get("state") != pending["state"]:
            session["error"] = request.args.get("error", "the sign-in did not start here")
            return redirect(url_for("home"))
        if request.args.get("iss") != issuer:  # RFC 9207 section 2.4: no mix-up
            session["error"] = "the answer came from another issuer"
            return redirect(url_for("home"))
        client = OAuth2Session(entity_id, oauth_key, redirect_uri=redirect_uri,
                               token_endpoint_auth_method="private_key_jwt")
        try:
            meta = provider()
            client.register_client_auth_method(
                PrivateKeyJWT(meta["token_endpoint"], headers={"kid": oauth_key.kid}))
            token = client.fetch_token(meta["token_endpoint"], code=request.args.get("code", ""),
                                       code_verifier=pending["verifier"])
            keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())
            decoded = jwt.decode(token["id_token"], keys)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": issuer}, aud={"essential": True, "value": entity_id},
                nonce={"essential": True, "value": pending["nonce"]}, exp={"essential": True},
            ).validate(decoded.claims)
            answer = client.get(meta["userinfo_endpoint"], timeout=5)
            answer.raise_for_status()
        except (OAuthError, JoseError, KeyError, ValueError, requests.RequestException) as e:
            session["error"] = " ".join(filter(None, (getattr(e, "error", None) or e.__class__.__name__,
                                                      getattr(e, "description", None))))
            return redirect(url_for("home"))
        session["claims"] = dict(decoded.claims)
        session["userinfo"] = answer.json()
        return redirect(url_for("home"))

    return app


def federation_keys(folder: str) -> DemoKeys:
    return DemoKeys(Path(folder) / "demo-federation-keys.json")

