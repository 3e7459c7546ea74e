"""A small federation on a real socket: a trust anchor, an intermediate and relying-party
leaves, each publishing its entity configuration and (authorities) a fetch endpoint, all
served by one tiny HTTP server on 127.0.0.1 under paths (http entity ids on loopback, as
CURBSIDE_INSECURE_TRANSPORT=1 allows)."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode

import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from federation import (
    ENTITY_STATEMENT_MEDIA_TYPE,
    WELL_KNOWN_PATH,
    build_entity_configuration,
    build_subordinate_statement,
    public_jwks,
)
from tests.flows.conftest import RunningHub, served_hub


@dataclass
class Member:
    id: str
    key: ECKey
    metadata: dict[str, Any]
    authority_hints: list[str] = field(default_factory=list)
    trust_marks: list[dict[str, str]] = field(default_factory=list)
    trust_mark_issuers: dict[str, list[str]] | None = None
    lifetime: int = 3600
    # The RP's OAuth key (request objects, private_key_jwt), published in its metadata.
    oauth_key: RSAKey | None = None

    @property
    def jwks(self) -> dict[str, Any]:
        return public_jwks(self.key)


class Network:
    """Entities under ``http://127.0.0.1:PORT/<name>``; ``statements`` maps
    (superior, subject) to build_subordinate_statement options."""

    def __init__(self) -> None:
        self.members: dict[str, Member] = {}
        self.statements: dict[tuple[str, str], dict[str, Any]] = {}
        self.hits: list[str] = []
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()

    def authority(self, name: str, *, hints: list[str] | None = None, **kw: Any) -> Member:
        eid = f"{self.base}/{name}"
        m = Member(eid, ECKey.generate_key("P-256", auto_kid=True), {"federation_entity": {
            "federation_fetch_endpoint": eid + "/fetch", "organization_name": name}},
            authority_hints=list(hints or []), **kw)
        self.members[eid] = m
        return m

    def relying_party(self, name: str, *, hints: list[str], **rp_metadata: Any) -> Member:
        eid = f"{self.base}/{name}"
        oauth_key = RSAKey.generate_key(2048, auto_kid=True, private=True)
        md = {"client_name": f"Network {name}", "redirect_uris": [eid + "/callback"],
              "response_types": ["code"], "grant_types": ["authorization_code", "refresh_token"],
              "token_endpoint_auth_method": "private_key_jwt",
              "client_registration_types": ["automatic", "explicit"],
              "jwks": {"keys": [oauth_key.as_dict(private=False)]}, **rp_metadata}
        m = Member(eid, ECKey.generate_key("P-256", auto_kid=True), {"openid_relying_party": md},
                   authority_hints=hints, oauth_key=oauth_key)
        self.members[eid] = m
        return m

    def enrol(self, superior: Member, subject: Member, **options: Any) -> None:
        self.statements[(superior.id, subject.id)] = options

    def configuration(self, m: Member, **extra: Any) -> str:
        return build_entity_configuration(m.id, key=m.key, now=int(time.time()), lifetime=m.lifetime,
                                          metadata=m.metadata, authority_hints=m.authority_hints,
                                          trust_marks=m.trust_marks,
                                          trust_mark_issuers=m.trust_mark_issuers,
                                          extra_claims=extra or None)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.hits.append(request.path)
        resp = self._answer(request)
        return resp(environ, start_response)

    def _answer(self, request: Request) -> Response:
        url = self.base + request.path
        for m in self.members.values():
            if url == m.id + WELL_KNOWN_PATH:
                return Response(self.configuration(m), mimetype=ENTITY_STATEMENT_MEDIA_TYPE)
            if url == m.id + "/fetch":
                sub = parse_qs(request.query_string.decode()).get("sub", [""])[0]
                options = self.statements.get((m.id, sub))
                if options is None:
                    return Response('{"error":"not_found"}', 404, mimetype="application/json")
                options = dict(options)
                lifetime = options.pop("lifetime", 3600)
                body = build_subordinate_statement(
                    m.id, sub, key=m.key, subject_jwks=self.members[sub].jwks,
                    now=int(time.time()), lifetime=lifetime, **options)
                return Response(body, mimetype=ENTITY_STATEMENT_MEDIA_TYPE)
        return Response("not found", 404)


NetworkT = TypeVar("NetworkT", bound=Network)


def anchored(n: NetworkT) -> Iterator[NetworkT]:
    """The federation the tests use: a trust anchor, a regional intermediate under it, and
    the relying parties each test enrols under the intermediate; closed afterwards."""
    anchor = n.authority("anchor")
    intermediate = n.authority("regional", hints=[anchor.id])
    n.enrol(anchor, intermediate)
    n.anchor, n.intermediate = anchor, intermediate  # type: ignore[attr-defined]
    yield n
    n.close()


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    yield from anchored(Network())


@pytest.fixture(scope="module")
def fed_hub(backend: Any, database: Any, net: Network, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[RunningHub]:
    anchor = net.anchor  # type: ignore[attr-defined]
    yield from served_hub(backend, tmp_path_factory.mktemp("fed"), store_prefix="tf",
                          outbound_allow_local=True,
                          federation_trust_anchors=json.dumps({anchor.id: anchor.jwks}),
                          federation_authority_hints=json.dumps([anchor.id]))


def new_network(net: Network, name: str, superior: Member | None = None, **md: Any) -> Member:
    superior = superior or net.intermediate  # type: ignore[attr-defined]
    rp = net.relying_party(f"{name}-{secrets.token_hex(3)}", hints=[superior.id], **md)
    net.enrol(superior, rp)
    return rp


class PartnerBackEnd:
    """The relying party's side: a request object it signs, then Authlib's client with
    private_key_jwt at the token endpoint."""

    def __init__(self, hub: RunningHub, rp: Member) -> None:
        self.hub, self.rp = hub, rp
        self.redirect_uri = rp.metadata["openid_relying_party"]["redirect_uris"][0]
        assert rp.oauth_key is not None
        self.session = OAuth2Session(rp.id, rp.oauth_key, scope="openid profile",
                                     redirect_uri=self.redirect_uri,
                                     token_endpoint_auth_method="private_key_jwt")
        self.session.register_client_auth_method(
            PrivateKeyJWT(f"{hub.issuer}/token", headers={"kid": rp.oauth_key.kid}))

    def request_object(self, **over: Any) -> str:
        assert self.rp.oauth_key is not None
        key = over.pop("_key", None) or self.rp.oauth_key
        self.state, self.nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        self.verifier = secrets.token_urlsafe(48)
        claims = {"iss": self.rp.id, "client_id": self.rp.id, "aud": self.hub.issuer,
                  "jti": secrets.token_urlsafe(16), "iat": int(time.time()),
                  "exp": int(time.time()) + 300, "response_type": "code", "scope": "openid profile",
                  "redirect_uri": self.redirect_uri, "state": self.state, "nonce": self.nonce,
                  "code_challenge": create_s256_code_challenge(self.verifier),
                  "code_challenge_method": "S256", **over}
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def authorization_url(self, request_object: str | None = None) -> str:
        ro = request_object or self.request_object()
        return f"{self.hub.issuer}/authorize?" + urlencode(
            {"client_id": self.rp.id, "response_type": "code", "scope": "openid profile", "request": ro})

    def token(self, code: str) -> dict[str, Any]:
        return dict(self.session.fetch_token(f"{self.hub.issuer}/token", code=code,
                                             code_verifier=self.verifier))
