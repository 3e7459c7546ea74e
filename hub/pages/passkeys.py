"""Passkey pages: enrol, rename and remove them from the account, and sign in with one,
with no password (usernameless) or as the second factor after the password.

WebAuthn needs script, and every other page of the hub runs none: only the pages here
load /static/passkeys.js, and only they widen the CSP, by ``script-src 'self'`` and
``connect-src 'self'`` (never 'unsafe-inline'). The login and second-factor pages link
here; they keep the CSP that forbids all script.

The sign-in answers are the sign-in flow's own (hub/protocol/signin.py ``signed_in``):
the authorization request goes on, or the account page opens. The challenge of a sign-in
is bound to the pending request (itself bound to the browser by its cookie), the
challenge of an enrolment to the SSO session (hub/domain/passkeys.py).

The pages speak the doctor's language (hub/i18n.py): the sign-in page that of the
authorization request (its ui_locales, as the login page), the account pages the doctor's.
hub/domain/passkeys.py has no Flask and refuses in English; its sentences are translated
here, by their text (``_said``), as hub/pages/links.py does with the link service's.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, jsonify, make_response, redirect, render_template, request
from flask_babel import format_date
from werkzeug.wrappers import Response

from hub.domain.authorization_requests import Pending, pending_keys
from hub.domain.crypto import sha256_hex
from hub.domain.passkeys import MAX_NAME, MAX_PASSKEYS, PasskeyError, PasskeyUse, clean_name
from hub.domain.sessions import SSOSession
from hub.domain.throttle import Attempt, StepThrottle
from hub.i18n import N_, ngettext
from hub.i18n import gettext as _
from hub.pages.account import _flow, _hub, csrf_token, doctor_view, error_page
from hub.pages.own_sign_in import shows_own_authentication
from hub.protocol import csrf
from hub.protocol.csrf import csrf_valid
from hub.protocol.guards import PAGE_HEADERS
from hub.protocol.par import kept_request_uri
from hub.protocol.signin import (
    ACCOUNT_NEXT,
    ACCOUNT_THROTTLE,
    EXPIRED,
    OTP_THROTTLE,
    device_cookies,
    signed_in,
)

bp = Blueprint("passkeys", __name__)
SCRIPT_CSP = PAGE_HEADERS["Content-Security-Policy"] + "; script-src 'self'; connect-src 'self'"
MAX_CREDENTIAL_JSON = 16 * 1024  # a passkey's answer is ~1-2 KiB; the form limit is 64 KiB

# What hub/domain/passkeys.py (and ``_credential_field``) refuse with, as the doctor reads
# it: translated by its text, which the catalogue holds through these marks.
PASSKEY_MESSAGES = frozenset((
    N_("Give the passkey a name."),
    N_("This passkey request expired. Try again."),
    N_("The passkey's id does not match the credential it created."),
    N_("The passkey's id is too long."),
    N_("This passkey is already registered."),
    N_("No passkey is set up for this account."),
    N_("This sign-in page expired. Start again."),
    N_("This passkey is not registered with Curbside. It may have been removed."),
    N_("This passkey belongs to another account."),
    N_("The passkey could not be checked: it was used at the same time elsewhere."),
    N_("The passkey answer must be a JSON object."),
    N_("The passkey answer is malformed: its id is missing or too long."),
    N_("Your browser sent no passkey. Try again."),
    N_("The passkey answer is too large."),
    N_("The passkey answer is not valid JSON."),
))
TOO_MANY = f"You have {MAX_PASSKEYS} passkeys already. Remove one you no longer use first."
# The domain's sentences that end with py_webauthn's reason: the reason names the failed
# check (a technical English sentence), the doctor reads the rest in her language.
WITH_REASON = (
    ("The passkey could not be checked: ", N_("The passkey could not be checked: %(reason)s")),
    ("The passkey answer is malformed: ", N_("The passkey answer is malformed: %(reason)s")),
)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    hub = app.extensions["curbside"]
    # The account page lists the doctor's passkeys (hub/pages/templates/_passkeys_account.html).
    app.jinja_env.globals["passkeys_of"] = hub.passkeys.list_for

    def passkey_second_factor(pending_id: str) -> bool:
        """Whether the second-factor page offers a passkey: its doctor has one. Only what
        the page shows; the passkey page checks the request's binding to the browser."""
        keys = pending_keys(pending_id)
        raw = hub.store.get(*keys[0]) if keys else None
        doctor_id = Pending.load(raw).doctor_id if raw else None
        return doctor_id is not None and hub.passkeys.count_for(doctor_id) > 0

    app.jinja_env.globals["passkey_second_factor"] = passkey_second_factor


def _with_script(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = SCRIPT_CSP
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _bad_json(message: str, status: int = 400) -> Response:
    resp = jsonify(error="invalid_request", error_description=message)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _json_body() -> dict[str, Any] | None:
    """The request's JSON object, or None for anything else (no exception escapes)."""
    if not request.is_json:
        return None
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _string(body: dict[str, Any], name: str, limit: int = 100) -> str:
    value = body.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _said(e: PasskeyError) -> str:
    """The refusal in the page's language (an unknown sentence stays as it is)."""
    text = str(e)
    if text in PASSKEY_MESSAGES:
        return _(text)
    if text == TOO_MANY:
        return ngettext("You have %(num)d passkey already. Remove one you no longer use first.",
                        "You have %(num)d passkeys already. Remove one you no longer use first.",
                        MAX_PASSKEYS)
    for prefix, sentence in WITH_REASON:
        if text.startswith(prefix):
            return _(sentence, reason=text[len(prefix):])
    return text


def _credential_field() -> str:
    value = request.form.get("credential", "")
    if not value:
        raise PasskeyError("Your browser sent no passkey. Try again.")
    if len(value) > MAX_CREDENTIAL_JSON:
        raise PasskeyError("The passkey answer is too large.")
    try:
        parsed = json.loads(value)
    except ValueError as e:
        raise PasskeyError("The passkey answer is not valid JSON.") from e
    if not isinstance(parsed, dict):
        raise PasskeyError("The passkey answer must be a JSON object.")
    return value


# -- sign-in ------------------------------------------------------------------------------------
def _pending(pending_id: str) -> Pending | None:
    return _flow().load_pending(pending_id[:64])


def _ceremony(pending: Pending) -> str:
    """What a sign-in challenge is bound to: the pending request *and* the step it is at.
    A challenge fetched before the password (any passkey, usernameless) must not answer the
    second factor the same request asks for after it: WebAuthn §7.2 step 6 wants the
    credential the ceremony was for, and the password's doctor is not the ceremony's."""
    return f"{pending.id}:{pending.doctor_id or ''}"


def _localize(pending: Pending) -> None:
    """The sign-in pages' language, as the login page chose it: the authorization request's
    ui_locales, then (a second factor) the doctor's saved locale, then the browser's."""
    _flow().localize(pending.params, pending.doctor_id)


def _signin_page(pending: Pending, error: str | None = None, status: int = 200) -> Response:
    hub = _hub()
    client = hub.clients.get(pending.params.get("client_id"))
    html = render_template("_passkeys_signin.html", pending=pending.id,
                           client_name=client.name if client else "",
                           second_factor=pending.doctor_id is not None, error=error,
                           back_url=_restart_url(pending))
    return _with_script(make_response(html, status))


def _restart_url(pending: Pending) -> str:
    """Where "use your password (or code) instead" goes (``restart``)."""
    if pending.params.get(ACCOUNT_NEXT):
        return "/account"
    return "/login/passkey/back?" + urlencode({"pending": pending.id})


@bp.get("/login/passkey/back")
def restart() -> Response:
    """The same authorization request from its start (the login page), or the account page
    that asked for a sign-in. The request goes back to ``/authorize`` as a one-time
    request_uri (hub/protocol/par.py), not spelled out in the address: a pushed request's
    parameters stay off the browser (RFC 9126 §1), and a federation member's request,
    verified from its request object, is one ``/authorize`` accepts only signed or pushed
    (OpenID Federation 1.0 section 12.1.1)."""
    pending = _pending(request.args.get("pending", ""))
    if pending is None:
        return error_page(*EXPIRED)
    if pending.params.get(ACCOUNT_NEXT):
        return redirect("/account", 303)
    uri = kept_request_uri(_hub(), pending.params)
    resp = redirect("/authorize?" + urlencode({"client_id": pending.params.get("client_id", ""),
                                               "request_uri": uri}), 303)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/login/passkey")
def signin_page() -> Response:
    pending = _pending(request.args.get("pending", ""))
    if pending is None:
        return error_page(*EXPIRED)
    _localize(pending)
    return _signin_page(pending)


@bp.post("/login/passkey/options")
def signin_options() -> Response:
    body = _json_body()
    if body is None:
        # Only a hand-made request gets this (the page's script always sends one): English.
        return _bad_json("Send a JSON object with the sign-in page's \"pending\" id.")
    pending = _pending(_string(body, "pending", 64))
    if pending is None:
        return _bad_json(_("This sign-in page expired. Go back to the network you came from and "
                           "start again."))
    _localize(pending)
    try:
        options = _hub().passkeys.authentication_options(_ceremony(pending), doctor_id=pending.doctor_id)
    except PasskeyError as e:
        return _bad_json(_said(e))
    resp = jsonify(options)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/login/passkey")
def signin() -> Response:
    hub = _hub()
    flow = _flow()
    pending = _pending(request.form.get("pending", ""))
    if pending is None:
        return error_page(*EXPIRED)
    _localize(pending)
    address = request.remote_addr or "unknown"
    second_factor = pending.doctor_id is not None
    try:
        use = hub.passkeys.authenticate(_ceremony(pending), _credential_field())
    except PasskeyError as e:
        if second_factor:
            hub.audit_event("auth:mfa:failure", doctor_id=pending.doctor_id, address=address,
                            reason="passkey")
        else:
            hub.audit_event("auth:login:failure", address=address, reason="passkey")
        return _signin_page(pending, _said(e), 400)
    doctor = hub.accounts.get(use.doctor_id)
    if doctor is None or doctor.disabled:
        return error_page(_("Sign-in is not possible"), _("This account is not active."), 403)
    if not second_factor:
        return signed_in(flow, pending, doctor.id, amr_of(use, first_factor=None))
    amr = amr_of(use, first_factor=pending.first_factor)
    if pending.first_factor == "fed":
        return signed_in(flow, pending, doctor.id, amr)
    # As after a TOTP code (hub/protocol/signin.py): both factors earn the device cookie,
    # and the password and second-factor attempt counts this browser ran up are cleared.
    device = devices_find(doctor.email)
    forgive = (StepThrottle.of(ACCOUNT_THROTTLE, hub.settings).cleared_by_success(
                   Attempt(sha256_hex(doctor.email), address, device))
               + StepThrottle.of(OTP_THROTTLE, hub.settings).cleared_by_success(
                   Attempt(doctor.id, address, device)))
    return signed_in(flow, pending, doctor.id, amr, device_account=doctor.email, forgive=forgive)


def devices_find(email: str) -> Any:
    devices = device_cookies(_hub())
    return devices.find(request.cookies.get(devices.name), email)


def amr_of(use: PasskeyUse, *, first_factor: str | None) -> list[str]:
    """RFC 8176 amr of a passkey sign-in.

    Alone (no password), user verification is required, so the passkey is two factors in
    one (something the doctor has, and her PIN or biometric: NIST SP 800-63B §5.1.9,
    a multi-factor cryptographic authenticator): "mfa" is claimed. As the second factor
    after ``first_factor`` ("pwd", or "fed" after a brokered sign-in): that method, the
    passkey's, and "mfa"."""
    methods = use.amr_methods
    if first_factor is None:
        return [*methods, "mfa"]
    return [first_factor, *methods, "mfa"]


# -- the account: enrol, rename, remove ---------------------------------------------------------
def _may_enrol(sso: SSOSession) -> Response | None:
    doctor = _hub().accounts.get(sso.doctor_id)
    if shows_own_authentication(sso, doctor):
        return None
    # NIST SP 800-63B §6.1.2.1, as for TOTP (hub/pages/account.py): binding a new
    # authenticator needs the account's own factors, not a brokered sign-in.
    return error_page(_("Sign in with your own factors first"),
                      _("Adding a passkey needs your own Curbside password (and your current code, "
                        "if one is set up) or a passkey you already have. Sign out, sign in with "
                        "them, then add the new one."), 403)


@bp.get("/account/passkeys")
@doctor_view(form=False)
def manage(cookie: str, sso: SSOSession) -> Response:
    return _manage_page(cookie, sso)


def _manage_page(cookie: str, sso: SSOSession, error: str | None = None, status: int = 200) -> Response:
    hub = _hub()
    doctor = hub.accounts.get(sso.doctor_id)
    html = render_template("_passkeys_manage.html", doctor=doctor,
                           passkeys=hub.passkeys.list_for(sso.doctor_id), csrf=csrf_token(cookie),
                           may_enrol=shows_own_authentication(sso, doctor), max_name=MAX_NAME,
                           error=error)
    return _with_script(make_response(html, status))


@bp.post("/account/passkeys/options")
def enrol_options() -> Response:
    hub = _hub()
    cookie = request.cookies.get(hub.sessions.cookie_name)
    sso = hub.sessions.load(cookie)
    if cookie is None or sso is None:
        return _bad_json(_("You are signed out. Sign in again, then add the passkey."), 401)
    body = _json_body()
    if body is None:
        return _bad_json("Send a JSON object with the page's \"csrf\" token.")
    if not csrf_valid(hub.secrets, csrf.DOCTOR, cookie, _string(body, "csrf", 200)):
        return _bad_json(_("This page has expired. Reload it and try again."))
    refused = _may_enrol(sso)
    if refused is not None:
        return _bad_json(_("Adding a passkey needs your own password or passkey sign-in first."), 403)
    doctor = hub.accounts.get(sso.doctor_id)
    try:
        options = hub.passkeys.registration_options(doctor, sso.sid)
    except PasskeyError as e:
        return _bad_json(_said(e))
    resp = jsonify(options)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/account/passkeys")
@doctor_view(form=True)
def enrol(cookie: str, sso: SSOSession) -> Response:
    hub = _hub()
    refused = _may_enrol(sso)
    if refused is not None:
        return refused
    # An unnamed passkey is named in the doctor's language, with the date as she writes it.
    name = (clean_name(request.form.get("name", "")[:200], "")
            or _("Passkey added %(date)s", date=format_date(format="medium")))
    try:
        added = hub.passkeys.register(sso.doctor_id, sso.sid, _credential_field(), name)
    except PasskeyError as e:
        return _manage_page(cookie, sso, _said(e), 400)
    hub.audit_event("auth:mfa:enrol", doctor_id=sso.doctor_id, method="passkey", passkey=added.id)
    return redirect("/account/passkeys", 303)


@bp.post("/account/passkeys/<int:passkey_id>/rename")
@doctor_view(form=True)
def rename(cookie: str, sso: SSOSession, passkey_id: int) -> Response:
    try:
        found = _hub().passkeys.rename(sso.doctor_id, passkey_id, request.form.get("name", "")[:200])
    except PasskeyError as e:
        return _manage_page(cookie, sso, _said(e), 400)
    if not found:
        return error_page(_("Passkey not found"), _("It may have been removed already."), 404)
    return redirect("/account/passkeys", 303)


@bp.post("/account/passkeys/<int:passkey_id>/remove")
@doctor_view(form=True)
def remove(cookie: str, sso: SSOSession, passkey_id: int) -> Response:
    hub = _hub()
    if not shows_own_authentication(sso, hub.accounts.get(sso.doctor_id)):
        # Removing an authenticator is as sensitive as binding one (NIST SP 800-63B
        # §6.1.2.1): whoever controls a linked network's account must not strip the
        # doctor's passkeys from a brokered sign-in.
        return error_page(_("Sign in with your own factors first"),
                          _("Removing a passkey needs your own Curbside password (and your current "
                            "code, if one is set up) or a passkey you already have. Sign out, sign "
                            "in with them, then remove it."), 403)
    if not hub.passkeys.remove(sso.doctor_id, passkey_id):
        return error_page(_("Passkey not found"), _("It may have been removed already."), 404)
    hub.audit_event("auth:mfa:remove", doctor_id=sso.doctor_id, method="passkey", passkey=passkey_id)
    return redirect("/account/passkeys", 303)

