"""A fake partner network served over real HTTP on 127.0.0.1 (random port).

One werkzeug app plays every upstream kind: an OpenID Provider (discovery, JWKS, authorize,
token, userinfo, revocation), a JSON API, ActivityStreams 2.0 collections and Atom/RSS feeds.
``scenario`` switches the *activity* endpoints into hostile modes so one conformance suite
can run against every kind.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLIENT_ID = "curbside"
CLIENT_SECRET = "s3cret/with:odd+chars"
SUBJECT = "u-123"
LAST_MODIFIED = "Wed, 01 May 2024 12:00:00 GMT"
GOOD_TITLES = ("Managing sepsis in the ED", "New NICE asthma guideline", "Locum rota swap")

_KEYS: dict[str, RSAKey] = {}


def rsa_key(kid: str) -> RSAKey:
    """RSA keys are slow to generate: one per kid per test session."""
    if kid not in _KEYS:
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
        _KEYS[kid] = key
    return _KEYS[kid]


@dataclass
class Post:
    id: str
    title: str
    body: str
    path: str
    published: str
    author: str = "Dr. Ada Lovelace"


def default_posts() -> list[Post]:
    return [
        Post("p1", GOOD_TITLES[0], "<p>Early <em>antibiotics</em> matter.</p>", "/posts/p1",
             "2024-05-01T10:00:00Z"),
        Post("p2", GOOD_TITLES[1], "Step-down advice &amp; inhaler technique.", "/posts/p2",
             "2024-04-20T08:30:00+02:00"),
        Post("p3", GOOD_TITLES[2], "Anyone free on the 14th?", "/posts/p3",
             "2024-04-01T07:00:00Z"),
    ]


HOSTILE_TITLE = "<script>alert('x')</script><b>Bold</b> claim &amp; <img src=x onerror=alert(1)>"
HOSTILE_URLS = ("javascript:alert(1)", " JaVaScRiPt:alert(document.cookie)",
                "data:text/html,<script>alert(1)</script>")


@dataclass
class Fake:
    """State of the fake network; tests poke at it to change behaviour."""

    base: str = ""
    scenario: str = "normal"  # normal | hostile | malformed | wrong_shape | huge | slow | garbage
    posts: list[Post] = field(default_factory=default_posts)
    kid: str = "k1"
    jwks_kids: tuple[str, ...] = ("k1",)
    id_token_patch: dict[str, Any] = field(default_factory=dict)
    id_token_signer: Callable[[dict[str, Any], dict[str, Any]], str] | None = None
    discovery_patch: dict[str, Any] = field(default_factory=dict)
    userinfo_patch: dict[str, Any] = field(default_factory=dict)
    send_iss: bool = True
    deny: bool = False
    auth_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    request_log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    access_tokens: dict[str, str] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    expires_in: int = 3600
    token_patch: dict[str, Any] = field(default_factory=dict)  # merged into token responses
    release: threading.Event = field(default_factory=threading.Event)
    slow_seconds: float = 5.0
    fail_statuses: list[int] = field(default_factory=list)  # served (and popped) before others

    # -- tokens -------------------------------------------------------------------------------

    def id_token(self, *, nonce: str, access_token: str) -> str:
        now = int(time.time())
        digest = hashlib.sha256(access_token.encode()).digest()
        claims: dict[str, Any] = {
            "iss": self.base, "sub": SUBJECT, "aud": CLIENT_ID, "exp": now + 300, "iat": now,
            "nonce": nonce, "auth_time": now - 5, "acr": "urn:mace:incommon:iap:silver",
            "amr": ["pwd", "otp"], "name": "Dr. Ada <i>Lovelace</i>",
            "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode(),
        }
        claims.update(self.id_token_patch)
        claims = {k: v for k, v in claims.items() if v is not None}
        header = {"alg": "RS256", "kid": self.kid}
        if self.id_token_signer:
            return self.id_token_signer(header, claims)
        return jwt.encode(header, claims, rsa_key(self.kid))


class FakeApp:
    def __init__(self, fake: Fake) -> None:
        self.fake = fake
        self.url_map = Map([
            Rule("/.well-known/openid-configuration", endpoint="discovery"),
            Rule("/jwks", endpoint="jwks"),
            Rule("/authorize", endpoint="authorize"),
            Rule("/token", endpoint="token", methods=["POST"]),
            Rule("/userinfo", endpoint="userinfo"),
            Rule("/revoke", endpoint="revoke", methods=["POST"]),
            Rule("/api/me", endpoint="me"),
            Rule("/api/posts", endpoint="api_posts"),
            Rule("/as/actor", endpoint="as_actor"),
            Rule("/as/outbox", endpoint="as_outbox"),
            Rule("/as/outbox/page", endpoint="as_page"),
            Rule("/feed.atom", endpoint="atom"),
            Rule("/feed.rss", endpoint="rss"),
            Rule("/status/<int:code>", endpoint="status"),
            Rule("/hang", endpoint="hang"),
            Rule("/big", endpoint="big"),
            Rule("/drip", endpoint="drip"),
        ])

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.fake.request_log.append((request.method, request.full_path, dict(request.headers)))
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
            response = getattr(self, "on_" + endpoint)(request, **args)
        except Exception as exc:  # noqa: BLE001 - werkzeug HTTPExceptions are responses
            if hasattr(exc, "get_response"):
                response = exc.get_response(environ)
            else:
                raise
        return response(environ, start_response)

    # -- helpers ------------------------------------------------------------------------------

    def _json(self, data: Any, status: int = 200, ctype: str = "application/json") -> Response:
        return Response(json.dumps(data), status=status, content_type=ctype)

    def _bearer(self, request: Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        return self.fake.access_tokens.get(token) if token else None

    def _client_ok(self, request: Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            return unquote(user) == CLIENT_ID and unquote(pw) == CLIENT_SECRET
        return (request.form.get("client_id") == CLIENT_ID
                and request.form.get("client_secret") == CLIENT_SECRET)

    def _activity(self, request: Request, render: Callable[[], tuple[bytes, str]],
                  *, conditional: bool = True) -> Response:
        """Apply the scenario to an activity endpoint."""
        fake = self.fake
        if fake.fail_statuses:
            return Response("unavailable", status=fake.fail_statuses.pop(0))
        if fake.scenario == "slow":
            fake.release.wait(fake.slow_seconds)
            return Response("late", status=200)
        if fake.scenario == "huge":
            def stream() -> Iterator[bytes]:
                yield b'{"data": {"posts": ['
                for _ in range(400):  # 400 x 8 KiB = 3.2 MiB
                    yield b" " * 8192
                yield b"]}}"
            return Response(stream(), content_type="application/json")
        if fake.scenario == "garbage":
            return Response(b"\x00\xff<<{{[[\x89PNG" * 50, content_type="application/json")
        body, ctype = render()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if conditional and (request.headers.get("If-None-Match") == etag
                            or request.headers.get("If-Modified-Since") == LAST_MODIFIED):
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type=ctype,
                        headers={"ETag": etag, "Last-Modified": LAST_MODIFIED})

    def _url(self, post: Post) -> str:
        return self.fake.base + post.path

    # -- OpenID Provider ----------------------------------------------------------------------

    def on_discovery(self, request: Request) -> Response:
        b = self.fake.base
        doc = {
            "issuer": b, "authorization_endpoint": b + "/authorize", "token_endpoint": b + "/token",
            "jwks_uri": b + "/jwks", "userinfo_endpoint": b + "/userinfo",
            "revocation_endpoint": b + "/revoke", "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": self.fake.send_iss,
        }
        doc.update(self.fake.discovery_patch)
        return self._json({k: v for k, v in doc.items() if v is not None})

    def on_jwks(self, request: Request) -> Response:
        keys = [rsa_key(k).as_dict(private=False) for k in self.fake.jwks_kids]
        return self._json({"keys": keys}, ctype="application/jwk-set+json")

    def on_authorize(self, request: Request) -> Response:
        args = request.args.to_dict()
        self.fake.auth_requests.append(args)
        target = args["redirect_uri"]
        if self.fake.deny:
            params = {"error": "access_denied", "state": args.get("state", "")}
        else:
            assert args["client_id"] == CLIENT_ID and args["response_type"] == "code"
            assert args["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            self.fake.codes[code] = args
            params = {"code": code, "state": args["state"]}
        if self.fake.send_iss:
            params["iss"] = self.fake.base
        return Response(status=302, headers={"Location": target + "?" + urlencode(params)})

    def on_token(self, request: Request) -> Response:
        form = request.form.to_dict()
        self.fake.token_requests.append(form)
        if not self._client_ok(request):
            return self._json({"error": "invalid_client"}, 401)
        if form.get("grant_type") == "authorization_code":
            grant = self.fake.codes.pop(form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return self._json({"error": "invalid_grant"}, 400)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge != grant["code_challenge"]:  # RFC 7636 §4.6
                return self._json({"error": "invalid_grant"}, 400)
            nonce, scope = grant.get("nonce", ""), grant.get("scope", "")
        elif form.get("grant_type") == "refresh_token":
            old = form.get("refresh_token", "")
            if old not in self.fake.refresh_tokens or old in self.fake.revoked:
                return self._json({"error": "invalid_grant"}, 400)
            del self.fake.refresh_tokens[old]  # rotation
            nonce, scope = "", "openid profile"
        else:
            return self._json({"error": "unsupported_grant_type"}, 400)
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.fake.access_tokens[access] = SUBJECT
        self.fake.refresh_tokens[refresh] = SUBJECT
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer",
                                "expires_in": self.fake.expires_in, "refresh_token": refresh,
                                "scope": scope}
        if "openid" in scope.split() and nonce:
            body["id_token"] = self.fake.id_token(nonce=nonce, access_token=access)
        body.update(self.fake.token_patch)
        return self._json({k: v for k, v in body.items() if v is not None})

    def on_userinfo(self, request: Request) -> Response:
        if not self._bearer(request):
            return Response(status=401)
        return self._json({"sub": SUBJECT, "name": "Ada L.", **self.fake.userinfo_patch})

    def on_revoke(self, request: Request) -> Response:
        if not self._client_ok(request):
            return self._json({"error": "invalid_client"}, 401)
        token = request.form.get("token", "")
        self.fake.revoked.append(token)
        self.fake.access_tokens.pop(token, None)
        return Response(status=200)

    # -- JSON API -----------------------------------------------------------------------------

    def on_me(self, request: Request) -> Response:
        if not self._bearer(request):
            return Response(status=401)
        return self._json({"data": {"user": {"id": SUBJECT, "full_name": "Dr. Ada Lovelace",
                                             "email": "ada@example.org"}}})

    def _api_item(self, post: Post, title: str | None = None, url: str | None = None) -> Any:
        return {"id": post.id, "type": "post", "subject": title or post.title, "body": post.body,
                "links": {"self": url or self._url(post)}, "created_at": post.published,
                "author": {"name": post.author}}

    def on_api_posts(self, request: Request) -> Response:
        if not self._bearer(request):
            return Response(status=401)

        def render() -> tuple[bytes, str]:
            posts = self.fake.posts
            items: list[Any] = [self._api_item(p) for p in posts]
            if self.fake.scenario == "hostile":
                items = [self._api_item(p, HOSTILE_TITLE, u) for p, u in zip(posts, HOSTILE_URLS,
                                                                           strict=True)]
            elif self.fake.scenario == "malformed":
                items = [items[0], "a string", 42, None, {"id": {"x": 1}, "subject": ["x"]},
                         {"subject": "no id and no url"}, {"id": "p9", "subject": {"a": 1}},
                         {**items[1], "created_at": "not a date"}, items[2]]
            doc: Any = {"data": {"posts": items}, "paging": {"next": None}}
            if self.fake.scenario == "wrong_shape":
                doc = {"data": {"posts": "oops"}}
            return json.dumps(doc).encode(), "application/json"

        return self._activity(request, render)

    # -- ActivityStreams 2.0 ------------------------------------------------------------------

    def _as2(self, data: Any) -> bytes:
        return json.dumps({"@context": "https://www.w3.org/ns/activitystreams", **data}).encode()

    def on_as_actor(self, request: Request) -> Response:
        if not self._bearer(request):
            return Response(status=401)
        b = self.fake.base
        return Response(self._as2({"type": "Person", "id": b + "/as/users/ada",
                                   "name": "Dr. Ada Lovelace", "preferredUsername": "ada",
                                   "outbox": b + "/as/outbox", "inbox": b + "/as/inbox"}),
                        content_type="application/activity+json")

    def _as_activity(self, post: Post, title: str | None = None, url: str | None = None) -> Any:
        b = self.fake.base
        return {"type": "Create", "id": f"{b}/as/activities/{post.id}",
                "actor": {"type": "Person", "name": post.author}, "published": post.published,
                "object": {"type": "Note", "id": f"{b}/as/notes/{post.id}",
                           "name": title or post.title, "content": post.body,
                           "url": url or self._url(post)}}

    def on_as_outbox(self, request: Request) -> Response:
        if not self._bearer(request):
            return Response(status=401)
        b = self.fake.base

        def render() -> tuple[bytes, str]:
            return self._as2({"type": "OrderedCollection", "id": b + "/as/outbox",
                              "totalItems": len(self.fake.posts),
                              "first": b + "/as/outbox/page?n=1"}), "application/activity+json"

        return self._activity(request, render)

    def on_as_page(self, request: Request) -> Response:
        if not self._bearer(request):
            return Response(status=401)
        b = self.fake.base
        n = int(request.args.get("n", "1"))
        posts = self.fake.posts
        items: list[Any] = [self._as_activity(p) for p in posts]
        if self.fake.scenario == "hostile":
            items = [self._as_activity(p, HOSTILE_TITLE, u)
                     for p, u in zip(posts, HOSTILE_URLS, strict=True)]
        elif self.fake.scenario == "malformed":
            items = [items[0], b + "/as/ref-only", {"type": "Create", "object": 5},
                     {"type": ["Note"], "name": {"bad": 1}}, {"type": "Tombstone", "id": "x"},
                     17, items[1], {"type": "Note", "id": b + "/n/9", "published": "soon"},
                     items[2]]
        page: dict[str, Any] = {"type": "OrderedCollectionPage", "id": f"{b}/as/outbox/page?n={n}",
                                "partOf": b + "/as/outbox", "orderedItems": items}
        if self.fake.scenario == "wrong_shape":
            page["orderedItems"] = "oops"
        if n == 1:
            page["next"] = b + "/as/outbox/page?n=2"
            page["orderedItems"] = page["orderedItems"] if n == 1 else []
        else:
            page["orderedItems"] = [{"type": "Note", "id": b + "/as/notes/old",
                                     "name": "An older note", "content": "from page two"}]
        return self._activity(request, lambda: (self._as2(page), "application/activity+json"),
                              conditional=False)

    # -- Feeds --------------------------------------------------------------------------------

    def _atom(self) -> bytes:
        from xml.sax.saxutils import escape

        s = self.fake.scenario
        entries = []
        for i, p in enumerate(self.fake.posts):
            title = escape(HOSTILE_TITLE if s == "hostile" else p.title)
            link = escape(HOSTILE_URLS[i] if s == "hostile" else p.path, {'"': "&quot;"})
            entries.append(
                f'<entry><id>tag:fake,2024:{p.id}</id><title type="html">{title}</title>'
                f'<link rel="alternate" href="{link}"/><updated>{p.published}</updated>'
                f'<author><name>{escape(p.author)}</name></author>'
                f'<summary type="html">{escape(p.body)}</summary></entry>')
        if s == "malformed":
            entries.insert(1, "<entry><summary>no id, no link, no title</summary></entry>")
            entries.insert(2, "<entry><id>bad</id><title>&bogus; <unclosed></title></entry>")
            entries.append("<entry><id>tail")  # truncated document
        if s == "wrong_shape":
            return b"<html><body><h1>Not a feed</h1><p>hello</p></body></html>"
        head = (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
                f' xml:base="{self.fake.base}/"><id>tag:fake,2024:feed</id>'
                f'<title>Ada &amp; friends</title><updated>2024-05-01T12:00:00Z</updated>')
        tail = "" if s == "malformed" else "</feed>"
        return (head + "".join(entries) + tail).encode()

    def _rss(self) -> bytes:
        from xml.sax.saxutils import escape

        s = self.fake.scenario
        items = []
        for i, p in enumerate(self.fake.posts):
            title = escape(HOSTILE_TITLE if s == "hostile" else p.title)
            link = escape(HOSTILE_URLS[i] if s == "hostile" else self._url(p))
            items.append(
                f"<item><guid>{self._url(p)}</guid><title>{title}</title><link>{link}</link>"
                f"<dc:creator>{escape(p.author)}</dc:creator><description>{escape(p.body)}</description>"
                f"<pubDate>Wed, 01 May 2024 10:0{i}:00 GMT</pubDate></item>")
        if s == "malformed":
            items.insert(1, "<item><description>no title, no link, no guid</description></item>")
            items.insert(2, "<item><title>&bogus;</title><link>not a url</link>")
        if s == "wrong_shape":
            return b'{"this": "is json, not rss"}'
        return (f'<?xml version="1.0"?><rss version="2.0" '
                f'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Ada RSS</title>'
                f'<link>{self.fake.base}/</link>{"".join(items)}</channel></rss>').encode()

    def on_atom(self, request: Request) -> Response:
        return self._activity(request, lambda: (self._atom(), "application/atom+xml"))

    def on_rss(self, request: Request) -> Response:
        return self._activity(request, lambda: (self._rss(), "application/rss+xml"))

    # -- HTTP-level misbehaviour ---------------------------------------------------------------

    def on_status(self, request: Request, code: int) -> Response:
        headers = {"Retry-After": "7"} if code in (429, 503) else {}
        return Response("x", status=code, headers=headers)

    def on_hang(self, request: Request) -> Response:
        self.fake.release.wait(self.fake.slow_seconds)
        return Response("{}", content_type="application/json")

    def on_big(self, request: Request) -> Response:
        size = int(request.args.get("size", "3000000"))
        return Response(b"x" * size, content_type="application/octet-stream")

    def on_drip(self, request: Request) -> Response:
        def stream() -> Iterator[bytes]:
            for _ in range(100):
                if self.fake.release.wait(0.2):
                    return
                yield b" "
        return Response(stream(), content_type="application/json")


class LiveServer:
    """A real HTTP server on 127.0.0.1 with an OS-assigned port, in a daemon thread."""

    def __init__(self, fake: Fake) -> None:
        self.fake = fake
        self.server = make_server("127.0.0.1", 0, FakeApp(fake), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        fake.base = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.fake.release.set()  # wake any handler sleeping in a "slow" scenario
        self.server.shutdown()
        self.server.server_close()
