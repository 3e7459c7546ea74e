"""Checks and headers every request gets, whichever path answers it (Flask or the token lane)."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

NUL_REFUSAL = "The request contains a NUL character."
# On every answer; HTML pages add PAGE_HEADERS.
BASE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
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


def add_security_headers(resp: Response) -> Response:
    """PAGE_HEADERS on HTML, BASE_HEADERS on the rest; a header the answer set stays."""
    h = resp.headers
    present = {name.lower() for name in h.keys()}  # one pass: setdefault scans every time
    for name, value in (PAGE_HEADERS if resp.mimetype == "text/html" else BASE_HEADERS).items():
        if name.lower() not in present:
            h.add(name, value)
    return resp


def contains_nul(request: Request) -> bool:
    """Whether the path, query or a form/JSON body holds a NUL character.

    PostgreSQL refuses NUL in text, so it is refused at the door. The raw query string and
    body are scanned: a NUL arrives as %00 (or a raw byte), and scanning bytes costs far
    less than decoding every field. The body is cached, so the form is parsed from it later.
    """
    env = request.environ
    query = env.get("QUERY_STRING", "")
    if "\x00" in env.get("PATH_INFO", "") or "%00" in query or "\x00" in query:
        return True
    if request.method not in ("POST", "PUT", "PATCH"):
        return False
    ctype = env.get("CONTENT_TYPE", "").lower()
    if ctype.startswith("application/json"):
        body = request.get_data(cache=True)
        return b"\x00" in body or b"\\u0000" in body
    if ctype.startswith("application/x-www-form-urlencoded"):
        body = request.get_data(cache=True)
        return b"%00" in body or b"\x00" in body
    return False


def malformed_authorization(header: str | None) -> bool:
    """An Authorization header that is not '<scheme> <credentials>' (Authlib fails on it)."""
    return header is not None and len(header.split(None, 1)) != 2


def no_store_json(status: int, body: dict[str, Any]) -> Response:
    """A JSON answer of the protocol endpoints: compact, never cached (RFC 6749 §5.1)."""
    resp = Response(json.dumps(body, separators=(",", ":")), status=status,
                    mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp
