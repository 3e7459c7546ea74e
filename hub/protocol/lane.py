"""POST /token, GET/POST /userinfo, discovery, JWKS and the health probes answered without
Flask's machinery.

The token endpoint carries every partner back-end's traffic (client_credentials, refresh),
token and userinfo carry one request of every sign-in, and discovery and JWKS are what
every relying party's library fetches first. Flask's request and app contexts, URL
matching and response hooks cost ~0.1-0.15 ms of the ~1 ms a token request costs under
gunicorn here (docs/benchmarks.md), and neither endpoint needs them: Authlib takes a
werkzeug request. The lane gives these endpoints what the app gives every endpoint (size
limits, NUL refusal, the base security headers, CORS, JSON errors that never leak
internals); everything else, including CORS preflights and wrong methods, goes on to Flask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from hub.ops.health import healthz_response, readyz_response
from hub.ops.outage import outage_json, outage_log, outage_part
from hub.protocol.discovery import discovery_response, jwks_response
from hub.protocol.guards import (
    BASE_HEADERS,
    NUL_REFUSAL,
    contains_nul,
    malformed_authorization,
    no_store_json,
)
from hub.protocol.server import BASIC_CHALLENGE, IssuerOAuth2Request
from hub.protocol.userinfo import userinfo_response

log = logging.getLogger("hub")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# Liveness and readiness probes: no session, no CSRF, never cached.
PROBES: dict[str, Callable[[Any, Request], Response]] = {
    "/healthz": healthz_response, "/readyz": readyz_response}


class LimitedRequest(Request):
    # The same limits the Flask app sets (hub/app.py).
    max_content_length = 64 * 1024
    max_form_memory_size = 64 * 1024
    max_form_parts = 100


def json_error(status: int, error: str, description: str) -> Response:
    return no_store_json(status, {"error": error, "error_description": description})


def refuse_malformed_auth(request: Request) -> Response | None:
    """invalid_client (RFC 6749 §5.2) for an Authorization header Authlib cannot parse,
    with the challenge of a failed authentication."""
    if not malformed_authorization(request.headers.get("Authorization")):
        return None
    resp = json_error(401, "invalid_client", "The Authorization header is malformed.")
    resp.headers["WWW-Authenticate"] = BASIC_CHALLENGE
    return resp


class ProtocolLane:
    def __init__(self, flask_app: WSGIApp, hub: Any, provider: Any, protector: Any) -> None:
        self.flask_app = flask_app
        self.hub = hub
        self.provider = provider
        self.protector = protector
        # The public documents relying parties fetch (GET; HEAD and preflights go to Flask).
        self.documents: dict[str, Callable[[Request], Response]] = {
            "/.well-known/openid-configuration": self._discovery,
            "/.well-known/oauth-authorization-server": self._discovery,
            "/jwks": self._jwks,
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/token" and method == "POST":
            answer = self._token
        elif path == "/userinfo" and method in ("GET", "POST"):
            answer = self._userinfo
        elif path in self.documents and method == "GET":
            answer = self.documents[path]
        elif path in PROBES and method in ("GET", "HEAD"):  # hub/ops/health.py
            answer = partial(PROBES[path], self.hub)
        else:
            return self.flask_app(environ, start_response)
        resp = self._guarded(answer, LimitedRequest(environ))
        for name, value in BASE_HEADERS.items():
            resp.headers.setdefault(name, value)
        resp.headers["Access-Control-Allow-Origin"] = "*"  # as hub/protocol/views.py's CORS
        return resp(environ, start_response)

    def _token(self, request: Request) -> Response:
        refusal = refuse_malformed_auth(request)
        if refusal is not None:
            return refusal
        return self.provider.create_token_response(  # type: ignore[no-any-return]
            IssuerOAuth2Request(request, self.hub.settings.issuer))

    def _userinfo(self, request: Request) -> Response:
        return userinfo_response(self.hub, self.protector, request)

    def _discovery(self, request: Request) -> Response:
        return discovery_response(self.hub, request)

    def _jwks(self, request: Request) -> Response:
        return jwks_response(self.hub, request)

    def _guarded(self, answer: Callable[[Request], Response], request: Request) -> Response:
        try:
            if contains_nul(request):
                return json_error(400, "invalid_request", NUL_REFUSAL)
            return answer(request)
        except HTTPException as e:  # e.g. 413 from the size limits while parsing the form
            status = e.code or 400
            return json_error(status, "invalid_request",
                              "The request is too large." if status == 413
                              else (e.description or "").split("\n")[0][:200])
        except Exception as e:
            part = outage_part(e)
            if part is not None:  # hub/ops/outage.py: an outage, not a bug
                outage_log.record(part, e, request.path)
                return outage_json(self.hub)
            log.exception("unhandled error on %s %s", request.method, request.path)
            return json_error(500, "server_error", "The server hit an error.")
