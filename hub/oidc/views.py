"""HTTP surface of the OpenID Provider."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request

from hub.oidc.discovery import provider_metadata
from hub.oidc.lane import ProtocolLane, refuse_malformed_auth
from hub.oidc.server import OpenIDProvider, resource_protector
from hub.oidc.userinfo import userinfo_response

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


@bp.post("/token")
def token() -> Response:
    """Reached only when the protocol lane is not installed (init_app installs it)."""
    return refuse_malformed_auth(request) or _provider().create_token_response()


@bp.post("/introspect")
def introspect() -> Response:
    return refuse_malformed_auth(request) or _provider().create_endpoint_response("introspection")


@bp.post("/revoke")
def revoke() -> Response:
    return refuse_malformed_auth(request) or _provider().create_endpoint_response("revocation")


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    """Reached only when the protocol lane is not installed (init_app installs it)."""
    return userinfo_response(_hub(), current_app.extensions["curbside.protector"], request)


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
    app.wsgi_app = ProtocolLane(app.wsgi_app, hub, provider,  # type: ignore[method-assign]
                                app.extensions["curbside.protector"])
