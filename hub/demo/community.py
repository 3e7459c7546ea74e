"""A reference community app for demos and end-to-end tests: one small Flask app that plays
every role a partner network can have towards the hub.

- **upstream OpenID Provider** (``/oidc/...``): discovery, JWKS, authorize (pick a demo
  member), token (code + PKCE S256, refresh with rotation), userinfo, revocation;
- **activity source**: a bearer-protected JSON API (``/api/posts``), ActivityStreams 2.0
  (``/as/actor``, ``/as/outbox``), an Atom feed per member (``/feed/<member>.atom``);
- **webhook sender**: a new post is pushed to the hub as a Standard Webhooks message signed
  with the shared secret;
- **relying party of the hub** (``/rp/...``): the demo partner network of ``network.py``.

It imports nothing from the hub, as a real partner would not. Demo only: members sign in by
clicking their name, and state lives in memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import requests
from flask import Flask, Response, abort, jsonify, redirect, render_template_string, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from standardwebhooks import Webhook
from werkzeug.middleware.dispatcher import DispatcherMiddleware

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ name }}</title>
<style>body{font:1.05rem/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#111}
button{padding:.5rem 1rem;background:#7c2d12;color:#fff;border:0;border-radius:.3rem;font-size:1rem}
input,textarea{width:100%;padding:.5rem;font-size:1rem}li{margin:.5rem 0}</style></head>
<body><h1>{{ name }}</h1>{{ body|safe }}</body></html>"""


SEED_POSTS = [
    ("Case: persistent cough after COVID", "Anyone seen this in <b>young</b> adults?"),
    ("Journal club: SGLT2 inhibitors", "Slides from Tuesday are up."),
    ("Locum swap on the 14th?", "Looking for a swap, <i>will return the favour</i>."),
]


@dataclass
class Member:
    id: str
    name: str


@dataclass
class Post:
    id: str
    member: str
    title: str
    body: str
    published: str


@dataclass
class CommunityState:
    members: dict[str, Member]
    posts: list[Post] = field(default_factory=list)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    access: dict[str, str] = field(default_factory=dict)  # token -> member id
    refresh: dict[str, str] = field(default_factory=dict)
    webhook_log: list[int] = field(default_factory=list)  # hub's answers to our pushes


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def create_community_app(*, name: str, base_url: str, client_id: str, client_secret: str,
                         redirect_uris: list[str], webhook_url: str | None = None,
                         webhook_secret: str | None = None,
                         members: dict[str, str] | None = None,
                         seed_posts: list[tuple[str, str]] | None = None) -> Flask:
    """``base_url`` is where this app is reachable; it is also the OIDC issuer.
    ``seed_posts``: (title, body) written by every member at start; give each community
    its own, or a doctor linked to two of them reads the same post twice in the feed."""
    app = Flask(f"community-{name}")
    key = RSAKey.generate_key(2048, parameters={"kid": "c1", "use": "sig", "alg": "RS256"})
    state = CommunityState(members={k: Member(k, v) for k, v in (members or {
        "m-ada": "Dr. Ada Lovelace", "m-jan": "Dr. Jan Jansen"}).items()})
    app.extensions["community"] = state
    for i, (title, body) in enumerate(seed_posts if seed_posts is not None else SEED_POSTS):
        for member in state.members:
            state.posts.append(Post(f"{member}-seed{i}", member, title, body,
                                    f"2026-01-0{i + 1}T09:00:00Z"))

    def page(body: str) -> str:
        return render_template_string(PAGE, name=name, body=body)

    def bearer() -> str:
        auth = request.headers.get("Authorization", "")
        member = state.access.get(auth.removeprefix("Bearer ")) if auth.startswith(
            "Bearer ") else None
        if member is None:
            abort(401)
        return member

    def client_ok() -> bool:
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            return auth.username == client_id and auth.password == client_secret
        return (request.form.get("client_id") == client_id
                and request.form.get("client_secret") == client_secret)

    # -- home: members write posts (pushed to the hub by webhook) -------------------------
    @app.get("/")
    def home() -> str:
        items = "".join(
            f"<li><strong>{escape(p.title)}</strong> by {escape(state.members[p.member].name)}"
            f" <a href='/posts/{p.id}'>link</a></li>" for p in reversed(state.posts[-20:]))
        who = "".join(f"<option value='{m.id}'>{escape(m.name)}</option>"
                      for m in state.members.values())
        return page(f"<p>A demo doctors' community. It is an OpenID Provider, an activity "
                    f"source and a webhook sender for Curbside.</p><h2>Write a post</h2>"
                    f"<form method='post' action='/post'><label>As <select name='member'>{who}"
                    f"</select></label><label>Title <input name='title' required></label>"
                    f"<label>Text <textarea name='body'></textarea></label>"
                    f"<button>Post</button></form><h2>Latest</h2><ul>{items}</ul>")

    @app.post("/post")
    def post() -> Any:
        member = request.form.get("member", "")
        if member not in state.members:
            abort(400)
        p = Post(secrets.token_hex(6), member, request.form.get("title", "")[:200] or "Untitled",
                 request.form.get("body", "")[:2000], _now())
        state.posts.append(p)
        if webhook_url and webhook_secret:
            threading.Thread(target=push, args=(p,), daemon=True).start()
        return redirect("/", 303)

    def push(p: Post) -> None:
        body = json.dumps({"type": "post.created", "timestamp": _now(), "data": {
            "member_id": p.member, "items": [api_item(p)]}})
        msg_id = "msg_" + secrets.token_hex(8)
        when = datetime.now(UTC)
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
                   "webhook-signature": Webhook(str(webhook_secret)).sign(msg_id, when, body),
                   "content-type": "application/json"}
        try:
            r = requests.post(str(webhook_url), data=body.encode(), headers=headers, timeout=5)
            state.webhook_log.append(r.status_code)
        except requests.RequestException:
            state.webhook_log.append(0)

    @app.get("/posts/<post_id>")
    def show_post(post_id: str) -> str:
        for p in state.posts:
            if p.id == post_id:
                return page(f"<h2>{escape(p.title)}</h2><p>{escape(p.body)}</p>")
        abort(404)

    # -- OpenID Provider ------------------------------------------------------------------
    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        b = base_url
        return jsonify({
            "issuer": b, "authorization_endpoint": b + "/oidc/authorize",
            "token_endpoint": b + "/oidc/token", "jwks_uri": b + "/oidc/jwks",
            "userinfo_endpoint": b + "/oidc/userinfo", "revocation_endpoint": b + "/oidc/revoke",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "posts.read"],
            "authorization_response_iss_parameter_supported": True})

    @app.get("/oidc/jwks")
    def jwks() -> Any:
        return jsonify({"keys": [key.as_dict(private=False)]})

    @app.get("/oidc/authorize")
    def authorize() -> Any:
        args = request.args.to_dict()
        if args.get("client_id") != client_id or args.get("redirect_uri") not in redirect_uris:
            abort(400)
        quote = {'"': "&quot;"}
        hidden = "".join(f'<input type="hidden" name="{escape(k, quote)}" '
                         f'value="{escape(v, quote)}">' for k, v in args.items())
        buttons = "".join(f"<button name='member' value='{m.id}'>Continue as "
                          f"{escape(m.name)}</button> " for m in state.members.values())
        return page(f"<p>Curbside asks to link your {escape(name)} account (scope: "
                    f"{escape(args.get('scope', ''))}).</p>"
                    f"<form method='post' action='/oidc/authorize'>{hidden}{buttons}</form>")

    @app.post("/oidc/authorize")
    def approve() -> Any:
        args = request.form.to_dict()
        member = args.pop("member", "")
        if (member not in state.members or args.get("client_id") != client_id
                or args.get("redirect_uri") not in redirect_uris
                or args.get("code_challenge_method") != "S256"):
            abort(400)
        code = secrets.token_urlsafe(16)
        state.codes[code] = {**args, "member": member, "auth_time": str(int(time.time()))}
        q = urlencode({"code": code, "state": args.get("state", ""), "iss": base_url})
        return redirect(f"{args['redirect_uri']}?{q}", 303)

    def tokens(member: str, scope: str, nonce: str | None, auth_time: int) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        state.access[access], state.refresh[refresh] = member, member
        out: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                               "expires_in": 3600, "refresh_token": refresh, "scope": scope}
        if "openid" in scope.split():
            now = int(time.time())
            digest = hashlib.sha256(access.encode()).digest()[:16]
            claims = {"iss": base_url, "sub": member, "aud": client_id, "iat": now,
                      "exp": now + 300, "auth_time": auth_time, "acr": "urn:demo:loa:1",
                      "amr": ["pwd"], "name": state.members[member].name,
                      "at_hash": base64.urlsafe_b64encode(digest).rstrip(b"=").decode()}
            if nonce:
                claims["nonce"] = nonce
            out["id_token"] = jwt.encode({"alg": "RS256", "kid": "c1"}, claims, key)
        return out

    @app.post("/oidc/token")
    def token() -> Any:
        if not client_ok():
            return jsonify(error="invalid_client"), 401
        form = request.form
        if form.get("grant_type") == "authorization_code":
            grant = state.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if (grant is None or grant["redirect_uri"] != form.get("redirect_uri")
                    or challenge != grant.get("code_challenge")):
                return jsonify(error="invalid_grant"), 400
            return jsonify(tokens(grant["member"], grant.get("scope", ""), grant.get("nonce"),
                                  int(grant["auth_time"])))
        if form.get("grant_type") == "refresh_token":
            member = state.refresh.pop(form.get("refresh_token", ""), None)
            if member is None:
                return jsonify(error="invalid_grant"), 400
            return jsonify(tokens(member, "posts.read", None, int(time.time())))
        return jsonify(error="unsupported_grant_type"), 400

    @app.post("/oidc/revoke")
    def revoke() -> Any:
        if not client_ok():
            return jsonify(error="invalid_client"), 401
        t = request.form.get("token", "")
        state.access.pop(t, None)
        state.refresh.pop(t, None)
        return "", 200

    @app.get("/oidc/userinfo")
    def userinfo() -> Any:
        member = bearer()
        return jsonify({"sub": member, "name": state.members[member].name})

    # -- activity: JSON API, ActivityStreams, Atom ----------------------------------------
    def api_item(p: Post) -> dict[str, Any]:
        return {"id": p.id, "type": "post", "title": p.title, "body": p.body,
                "url": f"{base_url}/posts/{p.id}", "published": p.published,
                "author": {"name": state.members[p.member].name}}

    def conditional(body: bytes, ctype: str) -> Response:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type=ctype, headers={"ETag": etag})

    def posts_of(member: str) -> list[Post]:
        return [p for p in reversed(state.posts) if p.member == member][:50]

    @app.get("/api/posts")
    def api_posts() -> Response:
        member = bearer()
        doc = {"data": {"posts": [api_item(p) for p in posts_of(member)]}}
        return conditional(json.dumps(doc).encode(), "application/json")

    @app.get("/api/me")
    def api_me() -> Any:
        member = bearer()
        return jsonify({"id": member, "name": state.members[member].name})

    @app.get("/as/actor")
    def as_actor() -> Any:
        member = bearer()
        return Response(json.dumps({
            "@context": "https://www.w3.org/ns/activitystreams", "type": "Person",
            "id": f"{base_url}/as/users/{member}", "name": state.members[member].name,
            "outbox": f"{base_url}/as/outbox"}), content_type="application/activity+json")

    @app.get("/as/outbox")
    def as_outbox() -> Response:
        member = bearer()
        items = [{"type": "Create", "id": f"{base_url}/as/activities/{p.id}",
                  "actor": {"type": "Person", "name": state.members[p.member].name},
                  "published": p.published,
                  "object": {"type": "Note", "id": f"{base_url}/as/notes/{p.id}",
                             "name": p.title, "content": p.body,
                             "url": f"{base_url}/posts/{p.id}"}} for p in posts_of(member)]
        doc = {"@context": "https://www.w3.org/ns/activitystreams",
               "type": "OrderedCollection", "id": f"{base_url}/as/outbox",
               "totalItems": len(items),
               "first": {"type": "OrderedCollectionPage", "orderedItems": items}}
        return conditional(json.dumps(doc).encode(), "application/activity+json")

    @app.get("/feed/<member>.atom")
    def atom(member: str) -> Response:
        if member not in state.members:
            abort(404)
        entries = "".join(
            f"<entry><id>{base_url}/posts/{p.id}</id><title>{escape(p.title)}</title>"
            f"<link rel='alternate' href='{base_url}/posts/{p.id}'/><updated>{p.published}"
            f"</updated><author><name>{escape(state.members[p.member].name)}</name></author>"
            f"<summary type='html'>{escape(p.body)}</summary></entry>" for p in posts_of(member))
        body = (f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
                f"<id>{base_url}/feed/{member}</id><title>{escape(name)}</title>"
                f"<updated>{_now()}</updated>{entries}</feed>").encode()
        return conditional(body, "application/atom+xml")

    return app


def connector_config(base_url: str, *, kind: str, client_id: str, client_secret: str,
                     demo_http: bool = True) -> dict[str, Any]:
    """The hub-side connector config for a community app of ``kind``."""
    http = {"timeout": 5.0, "insecure_transport": True, "allow_private_networks": True} \
        if demo_http else {}
    oauth = {"client_id": client_id, "client_secret": client_secret, "http": http}
    endpoints = {"authorization_endpoint": base_url + "/oidc/authorize",
                 "token_endpoint": base_url + "/oidc/token",
                 "revocation_endpoint": base_url + "/oidc/revoke", "issuer": base_url}
    mapping = {"items_path": "data.posts", "title": "title", "summary": "body", "url": "url",
               "published": "published", "actor": "author.name", "kind": "type"}
    if kind == "oidc":
        return {**oauth, "issuer": base_url, "scopes": ["openid", "profile", "posts.read"],
                "activity": {"url": base_url + "/api/posts", "mapping": mapping}}
    if kind == "oauth2-json":
        return {**oauth, **endpoints, "scopes": ["posts.read"],
                "identity": {"url": base_url + "/api/me", "subject": "id", "name": "name"},
                "activity": {"url": base_url + "/api/posts", "mapping": mapping}}
    if kind == "activitystreams":
        return {**oauth, **endpoints, "scopes": ["posts.read"],
                "actor_url": base_url + "/as/actor"}
    if kind == "feed":
        return {"http": http}
    raise ValueError(kind)


def webhook_config(secret: str) -> dict[str, Any]:
    return {"secrets": [secret], "subject_path": "data.member_id",
            "event_types": ["post.created"],
            "mapping": {"items_path": "data.items", "title": "title", "summary": "body",
                        "url": "url", "published": "published", "actor": "author.name"}}


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def with_relying_party(community: Flask, relying_party: Flask) -> Any:
    """Serve ``relying_party`` (``network.py``'s app) under ``/rp`` of the community, so one
    community also plays the hub's relying party."""
    return DispatcherMiddleware(community.wsgi_app, {"/rp": relying_party})
