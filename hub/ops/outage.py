"""An unreachable database or store is an outage, answered as one: 503 with Retry-After.

Each entry point turns exceptions into answers in one place: the protocol app's error
layer (hub/protocol/app.py) and the pages app's error handler (hub/app.py). Each asks
:func:`outage_part` first, so an outage is never a 500 that reads as a bug, and a client
or a doctor is told to come back instead of that something broke.

The error code is ``temporarily_unavailable`` everywhere. RFC 6749 §4.1.2.1 defines it for
the authorization endpoint; for the token, introspection, revocation, userinfo and
registration endpoints no RFC defines an outage code (§5.2, RFC 7662 §2.3, RFC 7009 §2.2.1,
RFC 6750 §3.1, RFC 7591 §3.2.2 list only request errors), so the machine-readable signal
there is the status, 503 with Retry-After, which RFC 7009 §2.2.1 prescribes for revocation
and RFC 9110 §15.6.4 defines for all. ``server_error`` stays what it says: a fault of the
hub, worth a bug report, which an outage is not.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlencode

import redis
from sqlalchemy import exc as sa_exc
from werkzeug.wrappers import Request, Response

from hub.i18n import lazy_gettext as _
from hub.protocol.guards import no_store_json

log = logging.getLogger("hub.outage")

ERROR = "temporarily_unavailable"
DESCRIPTION = "The service is temporarily unavailable; try again shortly."
PAGE_TITLE = _("Curbside is briefly unavailable")
PAGE_DETAIL = _("Curbside cannot complete this step right now. Please try again in a few "
                "minutes; if you came from a partner network, go back there and start again.")
LOG_EVERY = 10.0  # seconds: one log line per failing part, with a count of the answers since


def outage_part(error: BaseException) -> str | None:
    """``"store"`` (Redis) or ``"database"`` (which also backs the SQL store) when ``error``,
    or an error it was raised from, says that service cannot be reached; None otherwise."""
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 5:
        if isinstance(current, redis.ConnectionError | redis.TimeoutError):
            return "store"  # refused, reset, timed out, still loading its data set, bad auth
        if isinstance(current, sa_exc.OperationalError | sa_exc.TimeoutError):
            return "database"  # connection failures, statement timeouts, an exhausted pool
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return "database"
        current = current.__cause__ or current.__context__
        seen += 1
    return None


class _OutageLog:
    """Log an outage once per part every LOG_EVERY seconds, not once per request: a stopped
    Redis fails thousands of requests a second, and each would otherwise log a traceback."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._since: dict[str, int] = {}

    def record(self, part: str, error: BaseException, where: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(part, -LOG_EVERY) < LOG_EVERY:
                self._since[part] = self._since.get(part, 0) + 1
                return
            self._last[part] = now
            since = self._since.pop(part, 0)
        log.error("%s unreachable, answering 503 (%s on %s; %d more such answers in the "
                  "last %.0f s)", part, describe(error), where, since, LOG_EVERY)


outage_log = _OutageLog()


def describe(error: BaseException) -> str:
    """The driver's own first line: SQLAlchemy's full text carries the SQL and its
    parameters (an email address, a code), which a log line must not."""
    inner = getattr(error, "orig", None) or error
    first = (str(inner).strip().splitlines() or [""])[0]
    return f"{type(inner).__name__}: {first[:200]}"


def retry_after(hub: Any) -> str:
    return str(hub.settings.outage_retry_after)


def outage_json(hub: Any) -> Response:
    """The protocol endpoints' answer (token, introspection, revocation, userinfo,
    registration, JWKS before any key was loaded)."""
    resp = no_store_json(503, {"error": ERROR, "error_description": DESCRIPTION})
    resp.headers["Retry-After"] = retry_after(hub)
    return resp


def outage_page(hub: Any, pages: Any) -> Response:
    """A doctor's answer: what happened and what to do, never a stack of internals."""
    resp: Response = pages.error(PAGE_TITLE, PAGE_DETAIL, 503)
    resp.headers["Retry-After"] = retry_after(hub)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def authorization_outage(hub: Any, request: Request) -> Response | None:
    """``temporarily_unavailable`` sent back to the client (RFC 6749 §4.1.2.1) when the
    request names an active client and one of its registered redirect URIs, so the partner
    network can tell its user; None when that cannot be known (the client lookup itself may
    need the database that is down): the caller shows a page instead, never redirecting to
    an unchecked URI (RFC 9700 §4.11)."""
    try:
        params = request.values
        client = hub.clients.get(params.get("client_id", ""))
        uri = params.get("redirect_uri", "")
        if client is None or not client.active or not uri or not client.check_redirect_uri(uri):
            return None
    except Exception:  # noqa: BLE001 - an outage while handling an outage: show the page
        return None
    query = {"error": ERROR, "error_description": DESCRIPTION}
    state = params.get("state", "")
    if state and len(state) <= hub.settings.max_param_length:
        query["state"] = state
    query["iss"] = hub.settings.issuer  # RFC 9207 §2
    resp = Response("", 303)
    resp.headers["Location"] = f"{uri}{'&' if '?' in uri else '?'}{urlencode(query)}"
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Retry-After"] = retry_after(hub)
    return resp
