"""Routes of the federation endpoints (hub/protocol/federation.py) on the Flask app, until
the one protocol app takes them: a small blueprint, the service built once, the client
lookup and token endpoint hooks set."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint, Flask
from flask import request as flask_request
from werkzeug.wrappers import Response

import federation
from hub.protocol.federation import (
    PrivateKeyJWT,
    build_service,
    entity_configuration_response,
    explicit_registration_response,
    fetch_response,
    list_response,
    resolve_response,
    trust_mark_status_response,
)

ROUTES = (
    (federation.WELL_KNOWN_PATH, "entity_configuration", entity_configuration_response, ["GET"]),
    ("/federation/register", "explicit_registration", explicit_registration_response, ["POST"]),
    ("/federation/fetch", "fetch", fetch_response, ["GET"]),
    ("/federation/list", "list", list_response, ["GET"]),
    ("/federation/resolve", "resolve", resolve_response, ["GET"]),
    ("/federation/trust-mark-status", "trust_mark_status", trust_mark_status_response, ["POST"]),
)


def _view(answer: Any, hub: Any) -> Response:
    return answer(hub, flask_request)  # type: ignore[no-any-return]


def install(app: Flask, hub: Any) -> None:
    fed = hub.extra["federation"] = build_service(hub)
    hub.clients.admission = fed.current  # chains expire: hub/domain/federation.py
    app.extensions["curbside.provider"].register_client_auth_method(
        PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT(hub))
    bp = Blueprint("federation", __name__)
    for path, name, answer, methods in ROUTES:
        bp.add_url_rule(path, name, partial(_view, answer, hub), methods=methods)
    app.register_blueprint(bp)
