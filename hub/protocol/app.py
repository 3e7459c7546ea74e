"""The protocol app: one WSGI app answering every OAuth 2.0 / OpenID Connect endpoint.

One route table (``ROUTES``, a werkzeug routing Map), one guard and one error layer for all
of them; every other path goes on to the pages app (Flask, hub/pages/). No Flask request or
app context, no per-request hooks: a token request here costs a Map match and a werkzeug
Request on top of Authlib's own work (docs/benchmarks.md), which is why the protocol
endpoints live outside Flask at all.

The guard, for every route, in order:
- the request's size limits (``LimitedRequest``: body, form memory, form parts);
- OPTIONS answered with the route's methods (a CORS preflight where the route allows CORS),
  a method the route does not take refused with 405 and ``Allow`` (RFC 9110 §15.5.6);
- a NUL character anywhere in the path, query or body refused with 400 (PostgreSQL refuses
  NUL in text; ``contains_nul``);
- the security headers on every answer (``add_security_headers``: the page headers on
  HTML), and ``Access-Control-Allow-Origin: *`` on the endpoints browser-based clients call
  cross-origin (never with credentials: none of them reads cookies).

The error layer turns whatever escapes an endpoint into the answer its caller can read: an
OAuth error JSON for the machine endpoints, the pages' error page (hub/pages/rendering.py)
for the browser endpoints, 503 with Retry-After for an outage (hub/ops/outage.py), never a
traceback or an internal detail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, MapAdapter, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

import federation
from hub import i18n
from hub.ops.health import healthz_response, readyz_response
from hub.ops.metrics import ROUTE_KEY
from hub.ops.outage import (
    authorization_outage,
    outage_json,
    outage_log,
    outage_page,
    outage_part,
)
from hub.protocol import federation as fed
from hub.protocol import signin
from hub.protocol.authorize import AuthorizeFlow
from hub.protocol.discovery import discovery_response, jwks_response
from hub.protocol.guards import (
    NUL_REFUSAL,
    LimitedRequest,
    add_security_headers,
    contains_nul,
    malformed_authorization,
    no_store_json,
)
from hub.protocol.logout import end_session
from hub.protocol.openapi import openapi_response
from hub.protocol.par import pushed_authorization_response
from hub.protocol.registration import registration_endpoint
from hub.protocol.server import BASIC_CHALLENGE, OpenIDProvider, resource_protector
from hub.protocol.userinfo import userinfo_response

if TYPE_CHECKING:
    from authlib.oauth2 import ResourceProtector

    from hub.pages.rendering import Pages
    from hub.services import Hub

log = logging.getLogger("hub")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# (app, request, **the rule's arguments) -> the answer
Answer = Callable[..., Response]


@dataclass(frozen=True)
class Endpoint:
    """How the guard and the error layer treat a route.

    ``browser``: a doctor's browser navigates here: errors are the error page and HTML
    answers get the page headers. ``cors``: browser-based relying parties (public clients)
    call it cross-origin, authenticated by client credentials, PKCE or a bearer token,
    never by cookies, so any origin may read the answers."""

    answer: Answer
    methods: tuple[str, ...]
    browser: bool = False
    cors: bool = False


# -- the endpoints ------------------------------------------------------------------------------
def _discovery(app: ProtocolApp, request: Request) -> Response:
    return discovery_response(app.hub, request)


def _jwks(app: ProtocolApp, request: Request) -> Response:
    return jwks_response(app.hub, request)


def _openapi(app: ProtocolApp, request: Request) -> Response:
    return openapi_response(app.hub, request)


def _healthz(app: ProtocolApp, request: Request) -> Response:
    return healthz_response(app.hub, request)


def _readyz(app: ProtocolApp, request: Request) -> Response:
    return readyz_response(app.hub, request)


def _authorize(app: ProtocolApp, request: Request) -> Response:
    return app.flow(request).start()


def _login(app: ProtocolApp, request: Request) -> Response:
    return signin.login(app.flow(request))


def _consent(app: ProtocolApp, request: Request) -> Response:
    return signin.consent(app.flow(request))


def _logout(app: ProtocolApp, request: Request) -> Response:
    return end_session(app.hub, app.provider, app.pages, request)


def _token(app: ProtocolApp, request: Request) -> Response:
    return refuse_malformed_auth(request) or app.provider.create_token_response(request)  # type: ignore[no-any-return]


def _par(app: ProtocolApp, request: Request) -> Response:
    return refuse_malformed_auth(request) or pushed_authorization_response(app.hub, app.provider, request)


def _introspect(app: ProtocolApp, request: Request) -> Response:
    return refuse_malformed_auth(request) or app.provider.create_endpoint_response(  # type: ignore[no-any-return]
        "introspection", request)


def _revoke(app: ProtocolApp, request: Request) -> Response:
    return refuse_malformed_auth(request) or app.provider.create_endpoint_response(  # type: ignore[no-any-return]
        "revocation", request)


def _userinfo(app: ProtocolApp, request: Request) -> Response:
    return userinfo_response(app.hub, app.protector, request)


def _register(app: ProtocolApp, request: Request, client_id: str | None = None) -> Response:
    return registration_endpoint(app.hub, request, client_id)


def _rotate_secret(app: ProtocolApp, request: Request, client_id: str) -> Response:
    return registration_endpoint(app.hub, request, client_id, "secret")


def _federation(answer: Callable[[Any, Request], Response]) -> Callable[[ProtocolApp, Request], Response]:
    """An OpenID Federation endpoint (hub/protocol/federation.py) in the route table."""
    return lambda app, request: answer(app.hub, request)


GET, POST = ("GET",), ("POST",)
# The one route table. HEAD comes with GET (werkzeug adds it); OPTIONS is the guard's.
ROUTES: dict[str, Endpoint] = {
    "/.well-known/openid-configuration": Endpoint(_discovery, GET, cors=True),  # OIDC Discovery §4
    "/.well-known/oauth-authorization-server": Endpoint(_discovery, GET, cors=True),  # RFC 8414 §3
    "/jwks": Endpoint(_jwks, GET, cors=True),
    "/openapi.json": Endpoint(_openapi, GET, cors=True),
    "/healthz": Endpoint(_healthz, GET),
    "/readyz": Endpoint(_readyz, GET),
    "/authorize": Endpoint(_authorize, ("GET", "POST"), browser=True),  # OIDC Core §3.1.2.1
    "/login": Endpoint(_login, POST, browser=True),
    "/consent": Endpoint(_consent, POST, browser=True),
    "/logout": Endpoint(_logout, ("GET", "POST"), browser=True),  # RP-Initiated Logout §2
    "/token": Endpoint(_token, POST, cors=True),
    "/userinfo": Endpoint(_userinfo, ("GET", "POST"), cors=True),  # OIDC Core §5.3.1
    "/par": Endpoint(_par, POST),  # RFC 9126 §2
    "/introspect": Endpoint(_introspect, POST, cors=True),
    "/revoke": Endpoint(_revoke, POST, cors=True),
    "/register": Endpoint(_register, POST),  # RFC 7591 §3
    "/register/<client_id>": Endpoint(_register, ("GET", "PUT", "DELETE")),  # RFC 7592 §2
    "/register/<client_id>/secret": Endpoint(_rotate_secret, POST),
    # OpenID Federation 1.0: §9 entity configuration, §12.2 explicit registration, §8 endpoints.
    federation.WELL_KNOWN_PATH: Endpoint(_federation(fed.entity_configuration_response), GET, cors=True),
    "/federation/register": Endpoint(_federation(fed.explicit_registration_response), POST),
    "/federation/fetch": Endpoint(_federation(fed.fetch_response), GET, cors=True),
    "/federation/list": Endpoint(_federation(fed.list_response), GET, cors=True),
    "/federation/resolve": Endpoint(_federation(fed.resolve_response), GET, cors=True),
    "/federation/trust-mark-status": Endpoint(_federation(fed.trust_mark_status_response), POST),
}
URL_MAP = Map([Rule(path, endpoint=path, methods=list(e.methods)) for path, e in ROUTES.items()],
              merge_slashes=False, redirect_defaults=False)


class RouteMatcher:
    """``URL_MAP``'s match, with its fixed paths looked up in a dict first.

    werkzeug's matcher costs tens of microseconds per call here, on every request
    including each page request it then refuses; most protocol paths have no variable
    part. Both lookups are derived from the one table: fixed paths in a dict, and only a
    path under a variable rule's fixed prefix (``/register/``) goes to the Map."""

    def __init__(self, url_map: Map) -> None:
        rules = list(url_map.iter_rules())
        self.fixed = {r.rule: r for r in rules if not r.arguments}
        self.prefixes = tuple({r.rule.split("<", 1)[0] for r in rules if r.arguments})
        # Matching only: the path and method are passed to every match, so one adapter
        # serves every request (and every thread).
        self.urls: MapAdapter = url_map.bind("protocol")

    def match(self, path: str, method: str) -> tuple[Rule, dict[str, Any]] | None:
        """The rule and its arguments; None for a path of no rule; MethodNotAllowed (with
        the valid methods) for a method the path's rule does not take."""
        rule = self.fixed.get(path)
        if rule is not None:
            if method in rule.methods:  # type: ignore[operator]
                return rule, {}
            raise MethodNotAllowed(valid_methods=sorted(rule.methods or ()))
        if not path.startswith(self.prefixes):
            return None
        try:
            return self.urls.match(path, method, return_rule=True)  # type: ignore[return-value]
        except (NotFound, RequestRedirect):
            return None
SOMETHING_WENT_WRONG = (i18n.lazy_gettext("Something went wrong"),
                        i18n.lazy_gettext("Please try again in a moment."))
CORS_PREFLIGHT = {"Access-Control-Allow-Headers": "Authorization, Content-Type",
                  "Access-Control-Max-Age": "600"}


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


class ProtocolApp:
    """The WSGI app of the protocol endpoints; ``pages_app`` answers every other path."""

    def __init__(self, hub: Hub, pages: Pages, pages_app: WSGIApp, *,
                 provider: OpenIDProvider | None = None,
                 protector: ResourceProtector | None = None) -> None:
        self.hub = hub
        self.pages = pages
        self.pages_app = pages_app
        self.provider = provider or OpenIDProvider(hub)
        self.protector = protector or resource_protector(hub)
        self.routes = RouteMatcher(URL_MAP)

    def flow(self, request: Request) -> AuthorizeFlow:
        return AuthorizeFlow(self.hub, self.provider, request, self.pages)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        try:
            matched = self.routes.match(path, method)
        except MethodNotAllowed as e:
            rule, _ = self.routes.match(path, (e.valid_methods or ["GET"])[0]) or (None, None)
            assert rule is not None
            environ[ROUTE_KEY] = rule.rule
            endpoint = ROUTES[rule.endpoint]
            allowed = [*sorted(set(e.valid_methods or ()) - {"OPTIONS"}), "OPTIONS"]
            resp = (self._options(endpoint, allowed) if method == "OPTIONS"
                    else self._http_error(endpoint, MethodNotAllowed(valid_methods=allowed)))
            return self._finish(endpoint, resp)(environ, start_response)
        if matched is None:
            return self.pages_app(environ, start_response)
        rule = matched[0]
        environ[ROUTE_KEY] = rule.rule
        endpoint = ROUTES[rule.endpoint]
        return self._finish(endpoint, self._answer(endpoint, LimitedRequest(environ), matched[1]))(
            environ, start_response)

    def _answer(self, endpoint: Endpoint, request: Request, args: dict[str, Any]) -> Response:
        """The endpoint's answer, or the error layer's."""
        locale = None
        try:
            if contains_nul(request):
                raise BadRequest(NUL_REFUSAL)
            if endpoint.browser:  # the pages' language (hub/i18n.py); the flow refines it
                locale = i18n.choose(i18n.negotiate(request.values.get("ui_locales"), None,
                                                    request.accept_languages))
            return endpoint.answer(self, request, **args)
        except HTTPException as e:  # e.g. 413 from the size limits while parsing the form
            return self._http_error(endpoint, e)
        except Exception as e:
            part = outage_part(e)
            if part is not None:  # hub/ops/outage.py: an outage, not a bug
                outage_log.record(part, e, request.path)
                if not endpoint.browser:
                    return outage_json(self.hub)
                return ((authorization_outage(self.hub, request) if endpoint.answer is _authorize
                         else None) or outage_page(self.hub, self.pages))
            # The detail is for operators; the answer names nothing internal.
            log.exception("unhandled error on %s %s", request.method, request.path)
            if endpoint.browser:
                return self.pages.error(*SOMETHING_WENT_WRONG, 500)
            return json_error(500, "server_error", "The server hit an error.")
        finally:
            if locale is not None:
                i18n.reset(locale)

    def _http_error(self, endpoint: Endpoint, e: HTTPException) -> Response:
        if endpoint.browser:
            return self.pages.http_error(e)
        status = e.code or 400
        resp = json_error(status, "invalid_request" if status < 500 else "server_error",
                          "The request is too large." if status == 413
                          else (e.description or "").split("\n")[0][:200])
        if status == 405 and getattr(e, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(e.valid_methods)  # type: ignore[attr-defined]
        return resp

    def _options(self, endpoint: Endpoint, allowed: list[str]) -> Response:
        """RFC 9110 §9.3.7; for a CORS endpoint, the preflight answer (Fetch §3.2.2)."""
        resp = Response("", 200, headers={"Allow": ", ".join(allowed)})
        if endpoint.cors:
            resp.headers["Access-Control-Allow-Methods"] = ", ".join(
                m for m in allowed if m not in ("HEAD", "OPTIONS"))
            resp.headers.update(CORS_PREFLIGHT)
        return resp

    def _finish(self, endpoint: Endpoint, resp: Response) -> Response:
        add_security_headers(resp)
        if endpoint.cors:
            resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp
