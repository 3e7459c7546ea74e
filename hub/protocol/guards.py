"""Checks and headers every request gets, whichever app answers it (the protocol app,
hub/protocol/app.py, or the pages app)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Request, Response

NUL_REFUSAL = "The request contains a NUL character."
# Every form and JSON body the hub takes fits in 64 KiB (document uploads raise it for
# their one page route); the same limits hold in the pages app (hub/app.py).
MAX_BODY = 64 * 1024
MAX_FORM_PARTS = 100


class LimitedRequest(Request):
    """A werkzeug request that refuses an oversized body or form with 413."""

    max_content_length = MAX_BODY
    max_form_memory_size = MAX_BODY
    max_form_parts = MAX_FORM_PARTS


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
    # The media type's prefix: ``resp.mimetype`` parses the header's parameters each time.
    html = h.get("Content-Type", "")[:9].lower() == "text/html"
    for name, value in (PAGE_HEADERS if html else BASE_HEADERS).items():
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
    """An Authorization header that is not '<scheme> <credentials>' (Authlib fails on it),
    or Basic credentials that are not a client id and secret (``basic_credentials``)."""
    if header is None:
        return False
    parts = header.split(None, 1)
    if len(parts) != 2:
        return True
    return parts[0].lower() == "basic" and basic_credentials(parts[1]) is None


def basic_credentials(encoded: str) -> tuple[str, str] | None:
    """The (client id, secret) of HTTP Basic credentials, or None when they are not
    strict base64 of UTF-8 'id:secret' with neither part empty.

    RFC 6749 §2.3.1 sends both, form-urlencoded, in Basic (RFC 7617 §2, UTF-8 there).
    Authlib's own parsing raises on bytes that are not UTF-8 or a header that is not ASCII,
    so such headers are refused before it sees them (invalid_client, RFC 6749 §5.2).
    """
    try:
        decoded = base64.b64decode(encoded.strip().encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        return None
    return client_id, secret


def no_store_json(status: int, body: dict[str, Any]) -> Response:
    """A JSON answer of the protocol endpoints: compact, never cached (RFC 6749 §5.1)."""
    resp = Response(json.dumps(body, separators=(",", ":")), status=status,
                    mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


# PostgreSQL's INTEGER, the type of every numeric id column: a larger id in a URL would
# make the query fail instead of finding nothing.
MAX_DB_INTEGER = 2**31 - 1


class DatabaseIntConverter(IntegerConverter):
    """``<int:...>`` in a URL rule, matching only ids the database can hold: any other
    number is a 404 like any id that does not exist."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_DB_INTEGER, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


# RFC 6797 §6.1: a year, renewed by every answer. No includeSubDomains: the issuer's host
# does not speak for hosts below it.
HSTS = ("Strict-Transport-Security", "max-age=31536000")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class StrictTransportSecurity:
    """Every answer (pages, protocol endpoints, errors, whichever app) tells browsers to
    reach the hub over https only (RFC 6797), so a doctor's next visit cannot be
    downgraded to http. Installed only when the issuer is https."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def with_hsts(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(HSTS)
            return start_response(status, headers, exc_info)

        return self.app(environ, with_hsts)
