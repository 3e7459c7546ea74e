"""Registration (RFC 7591/7592) as the protocol app calls it: ``registration_endpoint(hub,
request) -> Response``, for POST /register and GET/PUT/DELETE /register/<client_id> and
POST /register/<client_id>/secret.

Until registration itself answers werkzeug requests, this runs today's Flask blueprint
(hub/protocol/registration.py) in a bare Flask app of its own, holding nothing but that
blueprint and the hub. It is the only place that knows; when a framework-neutral
``registration_endpoint`` exists, hub/protocol/app.py imports that one and this file goes.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from hub.protocol import registration

if TYPE_CHECKING:
    from hub.services import Hub

_APPS: dict[int, tuple[Any, Flask]] = {}


def _app_for(hub: Hub) -> Flask:
    known = _APPS.get(id(hub))
    if known is not None and known[0] is hub:
        return known[1]
    app = Flask(__name__)
    # Errors go on to the protocol app's error layer (an outage is a 503 there).
    app.config.update(PROPAGATE_EXCEPTIONS=True, JSON_SORT_KEYS=False)
    app.extensions["curbside"] = hub
    app.register_blueprint(registration.bp)

    @app.errorhandler(HTTPException)
    def to_the_protocol_app(e: HTTPException) -> Any:
        raise e  # answered as JSON by the protocol app's error layer, not Flask's HTML page

    _APPS[id(hub)] = (hub, app)
    return app


def registration_endpoint(hub: Hub, request: Request) -> Response:
    body = request.get_data(cache=True)  # the guard may have read it already
    environ = {**request.environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    environ.pop("werkzeug.request", None)
    return Response.from_app(_app_for(hub), environ)
