"""Logs for operators: ``CURBSIDE_LOG_FORMAT=json`` writes one JSON object per line, and every
record made while a request is answered carries that request's id, method and route.

What a record may hold is fixed here: the message, and request fields the hub chose (the
route template, never the path's query string, no header, cookie or body). Request ids come
from a trusted proxy's ``X-Request-ID`` when ``CURBSIDE_TRUSTED_PROXIES`` > 0 and the value
has the expected form, else the hub makes one.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

# Letters, digits and the separators of UUIDs, trace ids and common proxy formats; bounded so
# a client cannot write long or structured text into every log record of its request.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
ACCESS_LOGGER = "hub.access"
_HANDLER_MARK = "_curbside_handler"
_access_log = logging.getLogger(ACCESS_LOGGER)


class RequestInfo:
    __slots__ = ("environ", "method", "request_id", "route")

    def __init__(self, request_id: str, method: str, environ: dict[str, Any]) -> None:
        self.request_id = request_id
        self.method = method
        self.environ = environ
        self.route: str | None = None


_current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar("curbside_request",
                                                                            default=None)


def bind_request(info: RequestInfo) -> contextvars.Token[RequestInfo | None]:
    """Make ``info`` the current request of this thread until :func:`unbind_request`."""
    return _current.set(info)


def unbind_request(token: contextvars.Token[RequestInfo | None]) -> None:
    _current.reset(token)


def request_id_for(environ: dict[str, Any], *, trusted: bool) -> str:
    """The proxy's id when the proxy is trusted and the id is well formed, else a new one
    (a client reaching the hub directly could otherwise forge another request's id)."""
    if trusted:
        given = environ.get("HTTP_X_REQUEST_ID", "")
        if REQUEST_ID.fullmatch(given):
            return str(given)
    return secrets.token_hex(16)


def log_access(status: str, seconds: float) -> None:
    """The access record of the current request (JSON logs; in place of gunicorn's own)."""
    _access_log.info(
        "request answered", extra={"status": int(status) if status.isdigit() else 0,
                                   "duration_ms": round(seconds * 1000, 3)})


class RequestContextFilter(logging.Filter):
    """Adds the current request's fields to every record (on the handler, so records of any
    logger, the hub's, Authlib's, SQLAlchemy's, gunicorn's, get them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        info = _current.get()
        if info is not None:
            record.request_id = info.request_id
            record.method = info.method
            # Known once Flask has matched the request (a view's records have it).
            record.route = info.route or info.environ.get("curbside.route")
        return True


class JsonFormatter(logging.Formatter):
    # Only these attributes of a record are written (never record.args: gunicorn's access
    # records hold every request header and the query string there).
    FIELDS = ("request_id", "method", "route", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage() if record.name != "gunicorn.access" else "request answered",
            "pid": record.process,
        }
        for name in self.FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(settings: Any) -> None:
    """Set up the root logger for the app or a worker from the settings (idempotent)."""
    root = logging.getLogger()
    if settings.log_format != "json":
        logging.basicConfig(level=settings.log_level)
        return
    if any(isinstance(h.formatter, JsonFormatter) and not getattr(h, _HANDLER_MARK, False)
           for h in root.handlers):
        return  # gunicorn's logconfig_dict set it up already (hub serve)
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(settings.log_level)


def gunicorn_logconfig(settings: Any) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict`` for JSON logs: its error log, the hub's loggers and
    (when an operator turns it on) its access log, one JSON object per line on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestContextFilter}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"json": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                              "formatter": "json", "filters": ["request"]}},
        "root": {"level": settings.log_level, "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": settings.log_level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
        },
    }
