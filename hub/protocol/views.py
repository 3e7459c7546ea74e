"""HTTP surface of the OpenID Provider."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from hub.protocol.discovery import discovery_response, jwks_response
from hub.protocol.lane import ProtocolLane, refuse_malformed_auth
from hub.protocol.openapi import openapi_response
from hub.protocol.server import OpenIDProvider, resource_protector
from hub.protocol.userinfo import userinfo_response

bp = Blueprint("oidc", __name__)


def _hub() -> Any:
    return current_app.extensions["curbside"]


def _provider() -> OpenIDProvider:
    return current_app.extensions["curbside.provider"]  # type: ignore[no-any-return]


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def discovery() -> Response:
    """Reached for HEAD, or without the protocol lane (init_app installs it)."""
    return discovery_response(_hub(), request)


@bp.get("/jwks")
def jwks() -> Response:
    """Reached for HEAD, or without the protocol lane (init_app installs it)."""
    return jwks_response(_hub(), request)


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI document of the JSON endpoints; public and cacheable like discovery."""
    return openapi_response(_hub(), request)


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
                  "oidc.discovery", "oidc.openapi"}


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
