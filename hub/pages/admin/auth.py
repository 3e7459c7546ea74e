"""Console sign-in: password, then TOTP, then the console.

The TOTP secret is issued with the account (``hub admin create``, ``hub admin reset-totp``)
and handed over with the password; the console never enrols one. Enrolling at the first
sign-in was trust on first use: whoever opened the new account's sign-in first (with a
leaked or default password) bound their own authenticator to it.
"""

from __future__ import annotations

from flask import make_response, redirect, render_template, request
from werkzeug.wrappers import Response

from hub.admin.sessions import STAGE_TOTP
from hub.audit import append
from hub.domain.crypto import sha256_hex
from hub.domain.throttle import Attempt, DeviceCookies, StepThrottle
from hub.pages.admin.console import (
    bp,
    check_csrf,
    clear_cookie,
    client_address,
    console,
    cookie_value,
    csrf_token,
    hub,
    pre_session_cookie,
    set_cookie,
)

USED_KIND = "admin-totp-used"
CONSOLE = {"console": "admin"}
# Untrusted-client attempts per admin account; hub/domain/throttle.py names the others.
PASSWORD_THROTTLE = "admin-throttle-acct"  # keyed by the email's hash
OTP_THROTTLE = "admin-throttle-otp"  # keyed by the admin's id
ADDRESS_THROTTLE = "admin-throttle-addr"  # every untrusted attempt per client address


def _devices() -> DeviceCookies:
    """The console's own device cookie: a doctor's one never vouches for an admin account."""
    h = hub()
    return DeviceCookies(h.secrets, "admin", console().sessions.secure, h.settings.device_cookie_ttl)


def _device_for(email: str) -> str | None:
    devices = _devices()
    return devices.find(request.cookies.get(devices.name), email)


def _form(name: str, limit: int = 1024) -> str:
    return request.form.get(name, "")[:limit]


def _login_page(error: str | None = None, status: int = 200, email: str = "") -> Response:
    cookie = pre_session_cookie()
    html = render_template("admin/login.html", csrf=csrf_token(cookie), error=error, email=email, me=None)
    resp = make_response(html, status)
    resp.headers["Cache-Control"] = "no-store"
    return set_cookie(resp, cookie)


# Served from code, not a static file: package data ships *.css and *.html only. Without an
# icon of its own the browser asks for /favicon.ico and logs a 404 on every page.
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
           'fill="#222b38"/><path d="M4 8h8M8 4v8" stroke="#fff" stroke-width="2"/></svg>')


@bp.get("/favicon.svg")
def favicon() -> Response:
    resp = Response(FAVICON, mimetype="image/svg+xml")
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


@bp.get("/login")
def login_form() -> Response:
    session = console().sessions.load(cookie_value())
    if session is not None:
        return redirect("/admin/" if session.complete else "/admin/mfa", 303)
    return _login_page()


@bp.post("/login")
def login() -> Response:
    h = hub()
    check_csrf(cookie_value())
    email = _form("email", 254).strip().lower()
    password = _form("password")
    if not email or not password:
        return _login_page("Enter your email address and password.", 400, email)
    # As a doctor's sign-in (hub/protocol/signin.py): a browser with this admin's device cookie
    # is counted on its own, any other per address, (account, address) and account, so an
    # attacker's wrong passwords never lock an admin out of her own browser.
    attempt = Attempt(sha256_hex(email), client_address(), _device_for(email))
    throttle = StepThrottle.of(PASSWORD_THROTTLE, h.settings)
    window = h.settings.login_window
    address_ok = attempt.trusted or \
        h.store.incr(ADDRESS_THROTTLE, client_address(), ttl=window) <= h.settings.login_max_per_address
    if not address_ok or not throttle.admit(h.store, attempt):
        append(h.db, "auth:login:failure", actor=None, address=client_address(),
               detail={**CONSOLE, "reason": "throttled"})
        return _login_page("Too many sign-in attempts. Wait a few minutes and try again.", 429, email)
    admin = console().accounts.check_password(email, password)
    if admin is None:
        append(h.db, "auth:login:failure", actor=None, address=client_address(),
               detail={**CONSOLE, "reason": "bad_credentials"})
        return _login_page("That email address and password do not match.", 401, email)
    # The right password clears the counts it made (who knows it gains nothing by that):
    # an admin is never locked out by their own sign-ins.
    h.store.write_many(deletes=throttle.cleared_by_success(attempt))
    if not admin.mfa_enrolled:
        # An account from before secrets were issued at creation: no enrolment here.
        append(h.db, "auth:login:failure", actor=admin.actor, address=client_address(),
               detail={**CONSOLE, "reason": "no_totp"})
        return _login_page("This account has no authenticator yet. Ask whoever runs Curbside to "
                           "run hub admin reset-totp for it and give you the key.", 403, email)
    console().sessions.end(cookie_value())
    cookie, _ = console().sessions.create(admin.id, STAGE_TOTP)
    return set_cookie(redirect("/admin/mfa", 303), cookie)


def _mfa_page(cookie: str, error: str | None = None, status: int = 200) -> Response:
    html = render_template("admin/mfa.html", csrf=csrf_token(cookie), error=error, me=None)
    resp = make_response(html, status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/mfa")
def mfa_form() -> Response:
    cookie = cookie_value()
    session = console().sessions.load(cookie)
    if cookie is None or session is None:
        return redirect("/admin/login", 303)
    if session.complete:
        return redirect("/admin/", 303)
    admin = console().accounts.get(session.admin_id)
    if admin is None or admin.disabled:
        console().sessions.end(cookie)
        return redirect("/admin/login", 303)
    return _mfa_page(cookie)


@bp.post("/mfa")
def mfa() -> Response:
    h = hub()
    cookie = cookie_value()
    check_csrf(cookie)
    session = console().sessions.load(cookie)
    if cookie is None or session is None or session.complete:
        return redirect("/admin/login", 303)
    admin = console().accounts.get(session.admin_id)
    if admin is None or admin.disabled:
        console().sessions.end(cookie)
        return redirect("/admin/login", 303)
    code = _form("otp", 16).strip().replace(" ", "")
    attempt = Attempt(admin.id, client_address(), _device_for(admin.email))
    throttle = StepThrottle.of(OTP_THROTTLE, h.settings)
    if not throttle.admit(h.store, attempt):
        append(h.db, "auth:mfa:failure", actor=admin.actor, address=client_address(),
               detail={**CONSOLE, "reason": "throttled"})
        return _mfa_page(cookie, "Too many attempts. Wait a few minutes and try again.", 429)
    # check_totp refuses an account without a secret; a session of the old enrolment stage
    # (made before the update) therefore signs in with nothing but a code of an issued secret.
    ok = console().accounts.check_totp(admin, code)
    # A TOTP code is single-use (RFC 6238 §5.2): refuse one seen in the last 90 seconds.
    if ok and not h.store.add_once(USED_KIND, f"{admin.id}:{code}", ttl=90):
        ok = False
    if not ok:
        append(h.db, "auth:mfa:failure", actor=admin.actor, address=client_address(), detail=CONSOLE)
        return _mfa_page(cookie, "That code is not valid. Enter the current code from your app.", 401)
    h.store.write_many(deletes=throttle.cleared_by_success(attempt))  # as the password's counts
    new_cookie, _ = console().sessions.promote(cookie, session)
    console().accounts.signed_in(admin.id)
    append(h.db, "auth:login:success", actor=admin.actor, address=client_address(),
           detail={**CONSOLE, "amr": ["pwd", "otp", "mfa"], "role": admin.role})
    # Only the complete sign-in, both factors, earns a device cookie (OWASP device cookies).
    devices = _devices()
    device_cookie = devices.issue(request.cookies.get(devices.name), admin.email)
    resp = devices.set(redirect("/admin/", 303), device_cookie)
    return set_cookie(resp, new_cookie)


@bp.post("/logout")
def logout() -> Response:
    cookie = cookie_value()
    check_csrf(cookie)
    session = console().sessions.load(cookie)
    console().sessions.end(cookie)
    if session is not None and session.complete:
        append(hub().db, "auth:logout:success", actor=f"admin:{session.admin_id}",
               address=client_address(), detail=CONSOLE)
    return clear_cookie(redirect("/admin/login", 303))
