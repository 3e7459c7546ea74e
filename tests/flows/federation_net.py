"""A small federation on a real socket: a trust anchor, an intermediate and relying-party
leaves, each publishing its entity configuration and (authorities) a fetch endpoint, all
served by one tiny HTTP server on 127.0.0.1 under paths (http entity ids on loopback, as
CURBSIDE_INSECURE_TRANSPORT=1 allows)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

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


@dataclass
class Member:
    id: str
    key: ECKey
    metadata: dict[str, Any]
    authority_hints: list[str] = field(default_factory=list)
    trust_marks: list[dict[str, str]] = field(default_factory=list)
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
                                          trust_marks=m.trust_marks, extra_claims=extra or None)

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
