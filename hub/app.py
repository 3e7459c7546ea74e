"""The Flask app: services, blueprints, security headers and uniform error answers."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from hub.http_guards import BASE_HEADERS, NUL_REFUSAL, contains_nul
from hub.services import Hub
from hub.settings import Settings

log = logging.getLogger("hub")
API_PREFIXES = ("/token", "/introspect", "/revoke", "/userinfo", "/jwks", "/.well-known", "/api",
                "/register", "/links/webhooks")


def build_app(settings: Settings, *, store_prefix: str = "curbside:") -> Flask:
    logging.basicConfig(level=settings.log_level)
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        MAX_CONTENT_LENGTH=64 * 1024,
        MAX_FORM_MEMORY_SIZE=64 * 1024,
        MAX_FORM_PARTS=100,
        JSON_SORT_KEYS=False,
        PREFERRED_URL_SCHEME="http" if settings.insecure_transport else "https",
    )
    hub = Hub.build(settings, store_prefix=store_prefix)
    app.extensions["curbside"] = hub

    from hub.admin import init_app as init_admin
    from hub.oidc import views as oidc_views
    from hub.relying import init_app as init_relying
    from hub.web import links_views, verification_views
    from hub.web import views as web_views

    oidc_views.init_app(app, hub)
    app.register_blueprint(web_views.bp)
    app.register_blueprint(links_views.bp)
    app.register_blueprint(verification_views.bp)
    init_admin(app, hub)
    init_relying(app, hub)
    _install_input_guard(app)
    _install_headers(app)
    _install_errors(app)
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


# No script is needed to sign in, so none is allowed; framing is refused to stop
# clickjacking of the login and consent pages.
PAGE_HEADERS = {
    **BASE_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self' http: https:; frame-ancestors 'none'; "
                               "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _install_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(resp: Response) -> Response:
        # Each header unless the view set its own (one pass: setdefault scans every time).
        h = resp.headers
        present = {name.lower() for name in h.keys()}
        for name, value in (PAGE_HEADERS if resp.mimetype == "text/html" else BASE_HEADERS).items():
            if name.lower() not in present:
                h.add(name, value)
        return resp


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
            resp = jsonify(error=err, error_description=_short(e))
            resp.status_code = status
            return resp
        return render_template("error.html", title=_title(status), detail=_short(e)), status

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Any:
        # Log the detail for operators; answer with nothing internal.
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            resp = jsonify(error="server_error", error_description="The server hit an error.")
            resp.status_code = 500
            return resp
        return render_template("error.html", title="Something went wrong",
                               detail="Please try again in a moment."), 500


def _short(e: HTTPException) -> str:
    if e.code == 413:
        return "The request is too large."
    return (e.description or "").split("\n")[0][:200]


def _title(status: int) -> str:
    return {404: "Page not found", 405: "Not allowed", 413: "Request too large",
            429: "Too many requests"}.get(status, "This request cannot be completed")
