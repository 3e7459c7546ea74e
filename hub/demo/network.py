"""A demo partner network: an independent relying party built on Authlib's Flask client.

It knows the hub only by its issuer URL and client credentials, as any partner would, and
uses discovery, PKCE, ID-token validation against the JWKS, userinfo, silent SSO and
RP-initiated logout.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, render_template_string, session, url_for

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ name }}</title>
<style>body{font:1.05rem/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#111}
a.button,button{display:inline-block;padding:.6rem 1rem;background:#14532d;color:#fff;border-radius:.3rem;
text-decoration:none;border:0;font-size:1rem}pre{background:#f3f4f6;padding:1rem;overflow:auto;white-space:pre-wrap;word-break:break-word}</style></head>
<body><h1>{{ name }}</h1><p>A demo partner network that accepts Curbside sign-in.</p>
{% if user %}<p>Signed in as <strong>{{ user.get('name') or user.get('sub') }}</strong>.</p>
{% set vc = (userinfo or {}).get('verified_claims') %}
{% if vc is mapping and vc.verification is mapping %}{% set ev = vc.verification.evidence or [{}] %}
<p id="verified">Verified physician: {{ ev[0].get('record', {}).get('source', {}).get('name', 'a register') }}
({{ vc.verification.assurance_level }}), in <code>verified_claims</code> below.</p>{% endif %}
<h2>ID token claims</h2><pre>{{ claims|tojson(indent=2) }}</pre>
<h2>Userinfo</h2><pre>{{ userinfo|tojson(indent=2) }}</pre>
<p><a class="button" href="{{ url_for('logout') }}">Sign out everywhere</a></p>
{% else %}<p><a class="button" href="{{ url_for('login') }}">Sign in with Curbside</a>
<a class="button" href="{{ url_for('silent') }}">Try silent sign-in</a></p>
{% if error %}<p role="alert">Curbside answered: {{ error }}</p>{% endif %}{% endif %}</body></html>"""


def create_network_app(*, name: str, issuer: str, client_id: str, client_secret: str,
                       base_url: str, scope: str = "openid profile email") -> Flask:
    app = Flask(f"network-{client_id}")
    app.secret_key = secrets.token_bytes(32)
    app.config["SESSION_COOKIE_NAME"] = f"net_{client_id}"
    oauth = OAuth(app)
    oauth.register(
        "curbside",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": scope, "code_challenge_method": "S256"},
    )

    def page(**kw: Any) -> str:
        return render_template_string(PAGE, name=name, **kw)

    @app.get("/")
    def home() -> Any:
        tok = session.get("token")
        return page(user=session.get("user"), claims=tok and tok.get("userinfo"),
                    userinfo=session.get("userinfo"), error=session.pop("error", None))

    @app.get("/login")
    def login() -> Any:
        return oauth.curbside.authorize_redirect(f"{base_url}/callback")

    @app.get("/silent")
    def silent() -> Any:
        return oauth.curbside.authorize_redirect(f"{base_url}/callback", prompt="none")

    @app.get("/callback")
    def callback() -> Any:
        try:
            token = oauth.curbside.authorize_access_token()
        except OAuthError as e:
            session["error"] = e.error
            return redirect(url_for("home"))
        session["token"] = {"id_token": token.get("id_token"), "userinfo": dict(token["userinfo"])}
        session["userinfo"] = dict(oauth.curbside.userinfo(token=token))
        session["user"] = session["userinfo"]
        return redirect(url_for("home"))

    @app.get("/logout")
    def logout() -> Any:
        tok = session.pop("token", None) or {}
        session.clear()
        meta = oauth.curbside.load_server_metadata()
        q = urlencode({"id_token_hint": tok.get("id_token", ""), "client_id": client_id,
                       "post_logout_redirect_uri": f"{base_url}/", "state": secrets.token_urlsafe(8)})
        return redirect(f"{meta['end_session_endpoint']}?{q}")

    return app
