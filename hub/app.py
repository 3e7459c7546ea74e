"""The hub's WSGI app: the protocol app (hub/protocol/app.py) in front, answering every
OAuth/OpenID endpoint, and the Flask pages app behind it for every other path (the
doctors', operators' and admins' pages), with its own security headers and error pages."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, abort, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from hub import i18n
from hub.composition import build_hub
from hub.ops.logging import configure as configure_logging
from hub.ops.metrics import observe
from hub.ops.outage import outage_json, outage_log, outage_page, outage_part
from hub.pages import account as web_views
from hub.pages import links as links_views
from hub.pages import operators as portal
from hub.pages import passkeys as passkey_views
from hub.pages import verification as verification_views
from hub.pages.admin import init_app as init_admin
from hub.pages.rendering import Pages, error_title, short_description
from hub.protocol.app import ProtocolApp
from hub.protocol.federation import PrivateKeyJWT
from hub.protocol.guards import (
    MAX_BODY,
    MAX_FORM_PARTS,
    NUL_REFUSAL,
    DatabaseIntConverter,
    StrictTransportSecurity,
    add_security_headers,
    contains_nul,
)
from hub.protocol.server import OpenIDProvider
from hub.settings import Settings

log = logging.getLogger("hub")
# The JSON paths left to the pages app (the protocol app answers every protocol path).
API_PREFIXES = ("/api", "/links/webhooks")
SOMETHING_WENT_WRONG = (i18n.lazy_gettext("Something went wrong"),
                        i18n.lazy_gettext("Please try again in a moment."))


def build_app(settings: Settings, *, store_prefix: str = "curbside:") -> Flask:
    configure_logging(settings)
    app = Flask(__name__, template_folder="pages/templates", static_folder="pages/static")
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=MAX_BODY,
        MAX_FORM_PARTS=MAX_FORM_PARTS,
        JSON_SORT_KEYS=False,
        PREFERRED_URL_SCHEME="http" if settings.insecure_transport else "https",
    )
    # Before any blueprint: a rule's converters are made when it is added.
    app.url_map.converters["int"] = DatabaseIntConverter
    hub = build_hub(settings, store_prefix=store_prefix, serving=True)
    app.extensions["curbside"] = hub
    app.jinja_env.globals["static_url"] = lambda filename: f"{app.static_url_path}/{filename}"
    i18n.install(app)  # Flask-Babel; the protocol app's pages render in an app context
    pages = app.extensions["curbside.pages"] = Pages(app.jinja_env, app.app_context)
    # The pages that begin a sign-in (the account page without a session) use the provider.
    provider = app.extensions["curbside.provider"] = OpenIDProvider(hub)
    # RFC 7523 §2.2 for networks that joined by OpenID Federation (section 12.1.3).
    provider.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT(hub))

    app.register_blueprint(web_views.bp)
    app.register_blueprint(links_views.bp)
    app.register_blueprint(verification_views.bp)
    passkey_views.init_app(app)
    init_admin(app, hub)
    app.register_blueprint(portal.bp)
    _install_input_guard(app)
    _install_headers(app)
    _install_errors(app)
    # Every protocol path is answered in front of Flask; every other path goes on to it.
    app.wsgi_app = ProtocolApp(hub, pages, app.wsgi_app,  # type: ignore[method-assign]
                               provider=provider)
    if settings.issuer.startswith("https://"):
        app.wsgi_app = StrictTransportSecurity(app.wsgi_app)  # type: ignore[method-assign]
    if settings.trusted_proxies:  # outside both apps, so each sees the client's address
        app.wsgi_app = ProxyFix(app.wsgi_app,  # type: ignore[method-assign]
                                x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    # Outermost: request ids, metrics and access records cover both apps and every answer.
    observe(app, engine=hub.db.engine, settings=settings)
    return app


def _install_input_guard(app: Flask) -> None:
    """No protocol parameter or form field can hold a NUL character, and PostgreSQL refuses
    them in text: answer 400 at the door instead of failing deep inside a query."""

    @app.before_request
    def refuse_nul() -> None:
        if request.path.startswith("/admin/"):
            return  # the console cleans control characters itself and answers in its own pages
        if contains_nul(request):
            abort(400, NUL_REFUSAL)


def _install_headers(app: Flask) -> None:
    app.after_request(add_security_headers)


def _wants_json() -> bool:
    return request.path.startswith(API_PREFIXES)


def _install_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Any:
        status = e.code or 400
        if _wants_json():
            err = "invalid_request" if status < 500 else "server_error"
            if status == 404:
                err = "not_found"
            resp = jsonify(error=err, error_description=str(short_description(e)))
            resp.status_code = status
            return resp
        return render_template("error.html", title=error_title(status),
                               detail=short_description(e)), status

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Any:
        part = outage_part(e)
        if part is not None:  # hub/ops/outage.py: an outage, not a bug
            outage_log.record(part, e, request.path)
            hub = app.extensions["curbside"]
            return outage_json(hub) if _wants_json() else outage_page(
                hub, app.extensions["curbside.pages"])
        # Log the detail for operators; answer with nothing internal.
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            resp = jsonify(error="server_error", error_description="The server hit an error.")
            resp.status_code = 500
            return resp
        return render_template("error.html", title=SOMETHING_WENT_WRONG[0],
                               detail=SOMETHING_WENT_WRONG[1]), 500
