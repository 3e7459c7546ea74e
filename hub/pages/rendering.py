"""HTML answers rendered straight from the app's Jinja environment.

No Flask request context is needed, so the protocol app (hub/protocol/app.py), which answers
the sign-in pages without Flask, and the Flask views share one way to render a page and one
error page. The templates they render use only what they are given plus the environment's
globals (``static_url``, ``signin_networks``, ``page_locale`` and Flask-Babel's gettext),
never ``request`` or ``url_for``.

Translation (hub/i18n.py) needs only an app context: outside Flask's own requests the
renderer opens one (``context``) around the template, and the locale is the one the
protocol app chose for the request.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from flask import has_app_context
from jinja2 import Environment
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from hub.i18n import lazy_gettext as _l
from hub.i18n import template_context


class Pages:
    def __init__(self, env: Environment,
                 context: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        self.env = env
        self.context = context or nullcontext

    def render(self, template: str, **context: Any) -> str:
        if has_app_context():
            return self.env.get_template(template).render(template_context(), **context)
        with self.context():
            return self.env.get_template(template).render(template_context(), **context)

    def html(self, template: str, status: int = 200, **context: Any) -> Response:
        return Response(self.render(template, **context), status, mimetype="text/html")

    def error(self, title: Any, detail: Any, status: int = 400) -> Response:
        """``title`` and ``detail`` may be lazy (hub.i18n.lazy_gettext): they are translated
        as the page renders, in the request's locale."""
        return self.html("error.html", status, title=title, detail=detail)

    def http_error(self, e: HTTPException) -> Response:
        """The page for a werkzeug HTTP error (an oversized form, a refused method...)."""
        status = e.code or 400
        resp = self.error(error_title(status), short_description(e), status)
        if status == 405 and getattr(e, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(e.valid_methods)  # type: ignore[attr-defined]
        return resp


ERROR_TITLES = {404: _l("Page not found"), 405: _l("Not allowed"), 413: _l("Request too large"),
                429: _l("Too many requests")}
CANNOT_COMPLETE = _l("This request cannot be completed")
# werkzeug's own descriptions are English; the pages say the same in the doctor's language.
ERROR_DETAILS = {
    404: _l("There is no page at this address. Check the link, or start again from the home page."),
    405: _l("This page cannot be used this way. Go back and try again."),
    413: _l("The request is too large."),
    429: _l("Too many requests. Wait a few minutes and try again."),
}


def error_title(status: int) -> Any:
    return ERROR_TITLES.get(status, CANNOT_COMPLETE)


def short_description(e: HTTPException) -> Any:
    """A description the caller gave (``abort(400, _l(...))``) or the status's own words."""
    if e.code in ERROR_DETAILS and (e.description is None or e.description == type(e).description):
        return ERROR_DETAILS[e.code]  # type: ignore[index]
    if e.code == 413:
        return ERROR_DETAILS[413]
    described = e.description
    if described is None:
        return ""
    if not isinstance(described, str):  # a lazy message: translated as the page renders
        return described
    return described.split("\n")[0][:200]
