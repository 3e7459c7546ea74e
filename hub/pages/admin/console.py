"""The console's blueprint and the checks every view goes through.

Order of checks on an action (POST): signed in with both factors -> CSRF token -> role ->
reason. CSRF comes before the role check so that a forged request never writes to the
audit log; a genuine attempt beyond the admin's role is refused with 403 and audited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from hub.admin.accounts import AdminAccounts
from hub.admin.roles import Permission, allows
from hub.admin.sessions import AdminSession, AdminSessions
from hub.audit import append
from hub.audit.detail import looks_like_token
from hub.domain.crypto import new_token
from hub.persistence.models.admin import AdminAccount
from hub.protocol.csrf import ADMIN, csrf_valid
from hub.protocol.csrf import csrf_token as _csrf_token

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
               static_folder="static", static_url_path="/static")

# Reasons are chained into the audit log for good, so they are short and in words.
REASON_MIN = 3
REASON_MAX = 500
REASON_BYTES = 1500
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Account and client ids are random url-safe strings; anything else in a URL is not one
# (and a NUL would make PostgreSQL refuse the query instead of finding nothing).
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Console:
    """The console's services, kept in app.extensions["curbside.admin"]."""

    accounts: AdminAccounts
    sessions: AdminSessions


@dataclass(frozen=True)
class Principal:
    admin: AdminAccount
    session: AdminSession
    cookie: str

    @property
    def actor(self) -> str:
        return self.admin.actor

    def can(self, permission: Permission) -> bool:
        return allows(self.admin.role, permission)


def hub() -> Any:
    return current_app.extensions["curbside"]


def console() -> Console:
    return cast(Console, current_app.extensions["curbside.admin"])


def client_address() -> str:
    return request.remote_addr or "unknown"


def cookie_value() -> str | None:
    return request.cookies.get(console().sessions.cookie_name)


def set_cookie(resp: Response, cookie: str) -> Response:
    sessions = console().sessions
    resp.set_cookie(sessions.cookie_name, cookie, httponly=True, samesite="Strict",
                    secure=sessions.secure, path="/")
    return resp


def clear_cookie(resp: Response) -> Response:
    sessions = console().sessions
    resp.delete_cookie(sessions.cookie_name, path="/", secure=sessions.secure, httponly=True,
                       samesite="Strict")
    return resp


# -- CSRF: a keyed hash of the cookie value (pre-session cookie or session cookie) ----------
def csrf_token(cookie: str) -> str:
    return _csrf_token(hub().secrets, ADMIN, cookie)


def check_csrf(cookie: str | None) -> None:
    if not csrf_valid(hub().secrets, ADMIN, cookie, request.form.get("csrf", "")):
        abort(400, "This form has expired. Go back, reload the page and try again.")


def pre_session_cookie() -> str:
    """A random value for the sign-in form's CSRF token, before any session exists."""
    return cookie_value() or new_token(32)


# -- who is asking -----------------------------------------------------------------------------
def load_principal() -> tuple[str, AdminSession, AdminAccount] | None:
    cookie = cookie_value()
    session = console().sessions.load(cookie)
    if cookie is None or session is None:
        return None
    admin = console().accounts.get(session.admin_id)
    if admin is None or admin.disabled:
        # Disabling an admin ends their console access at the next request.
        console().sessions.end(cookie)
        return None
    return cookie, session, admin


def current() -> Principal:
    principal = g.get("admin_principal")
    if principal is None:
        abort(401)
    return cast(Principal, principal)


def require(permission: Permission) -> Callable[[F], F]:
    """Both factors done and the role allows ``permission``; POSTs also need the CSRF token."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            got = load_principal()
            if got is None:
                if request.method == "GET":
                    return redirect("/admin/login", 303)
                abort(401, "Sign in to the admin console first.")
            cookie, session, admin = got
            if not session.complete:
                if request.method == "GET":
                    return redirect("/admin/mfa", 303)
                abort(403, "Finish the two-step sign-in before doing anything.")
            if request.method == "POST":
                check_csrf(cookie)
            principal = Principal(admin, session, cookie)
            g.admin_principal = principal
            if not principal.can(permission):
                deny(principal, permission)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def deny(principal: Principal, permission: Permission) -> None:
    detail: dict[str, Any] = {"action": request.endpoint or "unknown", "method": request.method,
                              "role": principal.admin.role, "permission": permission.value}
    target = next(iter((request.view_args or {}).values()), None)
    if target is not None:
        # The id comes from the URL: keep it only if it is a plausible id, so a crafted one
        # can neither smuggle data into the chain nor make the append refuse (a 500).
        text = str(target)
        detail["target"] = text if _ID.fullmatch(text) and not looks_like_token(text) else "invalid"
    append(hub().db, "admin:access:denied", actor=principal.actor, address=client_address(), detail=detail)
    abort(403, f"Your role ({principal.admin.role}) does not allow this.")


def valid_id(value: str, what: str = "record") -> str:
    if not _ID.fullmatch(value):
        abort(404, f"No {what} with this id.")
    return value


def reason() -> str:
    """The admin's reason for an action: required, in words, at most REASON_MAX characters."""
    text = " ".join(_CONTROL.sub(" ", request.form.get("reason", "")).split())
    if len(text) < REASON_MIN:
        abort(400, "Give a reason for this action (a few words).")
    # The audit detail is capped at 2048 bytes of ASCII JSON, where a non-Latin letter takes
    # six; REASON_BYTES leaves room for the ids the action records beside it.
    if len(text) > REASON_MAX or len(json.dumps(text)) > REASON_BYTES:
        abort(400, f"The reason is too long: at most {REASON_MAX} characters.")
    if looks_like_token(text):
        # The audit log refuses token-like values; ask for words instead of failing later.
        abort(400, "Write the reason in words; it must not look like a code or a secret.")
    return text


def page(template: str, status: int = 200, **context: Any) -> Response:
    principal = g.get("admin_principal")
    cookie = principal.cookie if principal else None
    html = render_template(template, me=principal, csrf=csrf_token(cookie) if cookie else "",
                           Permission=Permission, **context)
    resp = make_response(html, status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.errorhandler(HTTPException)
def console_error(e: HTTPException) -> Response:
    status = e.code or 400
    detail = (e.description or "").split("\n")[0][:300]
    title = {400: "This request cannot be completed", 401: "Please sign in", 403: "Not allowed",
             404: "Not found", 429: "Too many requests"}.get(status, "This request cannot be completed")
    return page("admin/error.html", status, title=title, detail=detail)
