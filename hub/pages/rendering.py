"""HTML answers rendered straight from the app's Jinja environment.

No Flask request context is needed, so the protocol app (hub/protocol/app.py), which answers
the sign-in pages without Flask, and the Flask views share one way to render a page and one
error page. The templates they render use only what they are given plus the environment's
globals (``static_url``, ``signin_networks``), never ``request`` or ``url_for``.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response


class Pages:
    def __init__(self, env: Environment) -> None:
        self.env = env

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(context)

    def html(self, template: str, status: int = 200, **context: Any) -> Response:
        return Response(self.render(template, **context), status, mimetype="text/html")

    def error(self, title: str, detail: str, status: int = 400) -> Response:
        return self.html("error.html", status, title=title, detail=detail)

    def http_error(self, e: HTTPException) -> Response:
        """The page for a werkzeug HTTP error (an oversized form, a refused method...)."""
        status = e.code or 400
        resp = self.error(error_title(status), short_description(e), status)
        if status == 405 and getattr(e, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(e.valid_methods)  # type: ignore[attr-defined]
        return resp


def error_title(status: int) -> str:
    return {404: "Page not found", 405: "Not allowed", 413: "Request too large",
            429: "Too many requests"}.get(status, "This request cannot be completed")


def short_description(e: HTTPException) -> str:
    if e.code == 413:
        return "The request is too large."
    return (e.description or "").split("\n")[0][:200]
