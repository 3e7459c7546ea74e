"""HTTP surface of the OpenID Provider."""

from __future__ import annotations

import json
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, jsonify, request

from hub.oidc import claims as claimset
from hub.oidc.authorize import AuthorizeFlow
from hub.oidc.discovery import provider_metadata
from hub.oidc.server import OpenIDProvider, resource_protector
from hub.oidc.token_lane import TokenLane, refuse_malformed_auth

bp = Blueprint("oidc", __name__)


def _hub() -> Any:
    return current_app.extensions["curbside"]


def _provider() -> OpenIDProvider:
    return current_app.extensions["curbside.provider"]  # type: ignore[no-any-return]


def _cached_json(data: Any, max_age: int) -> Response:
    resp = Response(json.dumps(data, separators=(",", ":")), mimetype="application/json")
    resp.headers["Cache-Control"] = f"public, max-age={max_age}"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.add_etag()
    return resp.make_conditional(request)


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def discovery() -> Response:
    hub = _hub()
    meta = hub.extra.get("metadata")
    if meta is None:
        meta = hub.extra["metadata"] = provider_metadata(hub.settings.issuer,
                                                         hub.extra.get("metadata_extra"))
    return _cached_json(meta, 3600)


@bp.get("/jwks")
def jwks() -> Response:
    # Short enough that a key published as "next" reaches every cache long before it signs.
    return _cached_json(_hub().keys.jwks(), 300)


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    return AuthorizeFlow(_hub(), _provider()).start()


@bp.post("/token")
def token() -> Response:
    """Reached only when the token lane is not installed (init_app installs it)."""
    return refuse_malformed_auth(request) or _provider().create_token_response()


@bp.post("/introspect")
def introspect() -> Response:
    return refuse_malformed_auth(request) or _provider().create_endpoint_response("introspection")


@bp.post("/revoke")
def revoke() -> Response:
    return refuse_malformed_auth(request) or _provider().create_endpoint_response("revocation")


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    hub = _hub()
    protector = current_app.extensions["curbside.protector"]
    try:
        token = protector.acquire_token(["openid"])
    except OAuth2Error as error:
        return _bearer_error(error)
    client = hub.clients.get(token.client_id)
    doctor = hub.accounts.get(token.doctor_id) if token.doctor_id else None
    refusal = next((r for g in hub.userinfo_guards if (r := g(hub, token)) is not None), None)
    if client is None or doctor is None or doctor.disabled or refusal is not None:
        resp = jsonify(error="invalid_token", error_description=refusal or "The token is not valid.")
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="curbside", error="invalid_token"'
        resp.headers["Cache-Control"] = "no-store"
        return resp
    names = claimset.released(token.claims, token.scope, "userinfo")
    body = {"sub": hub.subject(doctor.id, client), **claimset.doctor_claims(doctor, names)}
    vc_request = claimset.verified_claims_request(token.claims, token.scope, "userinfo")
    body.update(claimset.verification_claims(hub.db, doctor.id, names, vc_request, "userinfo"))
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _bearer_error(error: OAuth2Error) -> Response:
    """RFC 6750 §3: every refusal names the Bearer scheme; a request that sent no token
    gets no error code (§3.1), one with a bad token gets invalid_token."""
    status, body, headers = error()
    if error.error == "missing_authorization":
        resp = jsonify(error="invalid_request", error_description="A bearer access token is required.")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="curbside"'
    else:
        resp = jsonify(dict(body))
        for k, v in headers:
            resp.headers[k] = v
        resp.headers.setdefault("WWW-Authenticate",
                                f'Bearer realm="curbside", error="{error.error}"')
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


# Browser-based relying parties (public clients) call these endpoints cross-origin. They are
# authenticated by client credentials, PKCE or a bearer token, never by cookies, so any
# origin may read the answers; credentials mode is never allowed.
CORS_ENDPOINTS = {"oidc.token", "oidc.userinfo", "oidc.revoke", "oidc.introspect", "oidc.jwks",
                  "oidc.discovery"}


@bp.after_app_request
def _cors(resp: Response) -> Response:
    if request.endpoint in CORS_ENDPOINTS:
        resp.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST"
            resp.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            resp.headers["Access-Control-Max-Age"] = "600"
    return resp


def init_app(app: Any, hub: Any) -> None:
    provider = app.extensions["curbside.provider"] = OpenIDProvider(hub)
    app.extensions["curbside.protector"] = resource_protector(hub)
    app.register_blueprint(bp)
    app.wsgi_app = TokenLane(app.wsgi_app, provider)  # type: ignore[method-assign]
