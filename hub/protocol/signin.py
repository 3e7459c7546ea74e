"""The sign-in forms of an authorization: the password and second factor (POST /login) and
the consent decision (POST /consent), answered by the protocol app (hub/protocol/app.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from authlib.oauth2 import OAuth2Error
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from hub.domain.authorization_requests import AUTHZ_KIND, Pending
from hub.domain.crypto import sha256_hex
from hub.domain.throttle import Attempt, DeviceCookies, StepThrottle
from hub.i18n import lazy_gettext as _
from hub.protocol.authorize import AuthorizeFlow

if TYPE_CHECKING:
    from hub.services import Hub

ACCOUNT_NEXT = "__account"  # a pending "request" that ends on the account page
# Untrusted-client attempts per account (hub/domain/throttle.py names the others after them)
ACCOUNT_THROTTLE = "throttle-acct"  # at the password, keyed by the email's hash
OTP_THROTTLE = "throttle-otp"  # at the second factor, keyed by the account's id
ADDRESS_FAILURES = "fails-addr"  # failed password attempts per client address
EXPIRED = (_("Your sign-in page expired"),
           _("Go back to the network you came from and start the sign-in again."))
TOO_MANY = _("Too many sign-in attempts. Wait a few minutes and try again.")
NOT_ACTIVE = (_("Sign-in is not possible"), _("This account is not active."))


def _form(request: Request, name: str, limit: int = 1024) -> str:
    return request.form.get(name, "")[:limit]


def _address(request: Request) -> str:
    return request.remote_addr or "unknown"


def device_cookies(hub: Hub) -> DeviceCookies:
    return DeviceCookies(hub.secrets, "doctor", hub.sessions.secure, hub.settings.device_cookie_ttl)


def login(flow: AuthorizeFlow) -> Response:
    hub, request = flow.hub, flow.request
    email = _form(request, "email", 254).strip().lower()
    password = _form(request, "password")
    address = _address(request)
    devices = device_cookies(hub)
    passwords = StepThrottle.of(ACCOUNT_THROTTLE, hub.settings)
    # A password attempt counts before the password is checked, read with the pending
    # request in one round trip (an attempt on an expired page counts too: nothing is
    # checked for it): against the browser's device cookie for the account, or, from a
    # browser without one, against its (account, address) and then the account
    # (hub/domain/throttle.py). Untrusted browsers also meet the address's failures:
    # only failures count per address, since a hospital's NAT is one address for all.
    attempt = Attempt(sha256_hex(email), address, devices.find(request.cookies.get(devices.name), email)) \
        if email and password else None
    counters = passwords.first_counts(attempt) if attempt else []
    address_failures = [(ADDRESS_FAILURES, address)] if attempt and not attempt.trusted else []
    pending, counted = flow.load_pending_counting(_form(request, "pending", 64), counters,
                                                  window=hub.settings.login_window,
                                                  tallies=address_failures)
    if pending is None:
        return flow.pages.error(*EXPIRED)
    flow.localize(pending.params)  # ui_locales of the request, kept through its steps
    client = hub.clients.get(pending.params.get("client_id"))
    client_name = client.name if client else ""

    def again(message: Any, status: int, template: str = "login.html") -> Response:
        html = flow.pages.render(template, pending=pending.id, client_name=client_name,
                                 login_hint=_form(request, "email", 254), error=message)
        return flow.respond(html, None, status)

    def throttled() -> Response:
        hub.audit_event("auth:login:failure", address=address, reason="throttled")
        return again(TOO_MANY, 429)

    if pending.doctor_id is None:  # step 1: password
        if attempt is None:
            return again(_("Enter your email address and password."), 400)
        if address_failures and counted[-1] >= hub.settings.login_max_per_address:
            return throttled()
        if not passwords.admits(hub.store, attempt, counted):
            return throttled()
        doctor = hub.accounts.check_password(email, password)
        if doctor is None:
            if not attempt.trusted:
                hub.store.incr(ADDRESS_FAILURES, address, ttl=hub.settings.login_window)
            hub.audit_event("auth:login:failure", address=address, reason="bad_credentials")
            return again(_("That email address and password do not match."), 401)
        if doctor.mfa_enabled:
            pending.doctor_id = doctor.id
            flow.save_pending(pending)
            flow.localize(pending.params, doctor.id, doctor_locale=doctor.locale)
            return again("", 200, "otp.html")
        return signed_in(flow, pending, doctor.id, ["pwd"], device_account=doctor.email,
                         forgive=passwords.cleared_by_success(attempt))

    # step 2: second factor, throttled like the password, per device cookie or else per
    # (account, address) and account: whoever has the password cannot lock the doctor out
    # of her second factor on her own browser.
    doctor = hub.accounts.get(pending.doctor_id)
    if doctor is None or doctor.disabled:
        return flow.pages.error(*NOT_ACTIVE, 403)
    flow.localize(pending.params, doctor.id, doctor_locale=doctor.locale)
    code = _form(request, "otp", 64)
    device = devices.find(request.cookies.get(devices.name), doctor.email)
    second = StepThrottle.of(OTP_THROTTLE, hub.settings)
    otp_attempt = Attempt(doctor.id, address, device)
    if not second.admit(hub.store, otp_attempt):
        hub.audit_event("auth:mfa:failure", doctor_id=doctor.id, address=address, reason="throttled")
        return again(_("Too many attempts. Wait a few minutes and try again."), 429, "otp.html")
    method = hub.accounts.check_second_factor(doctor, code)
    # A TOTP code is single-use (RFC 6238 §5.2): refuse it if seen in the last 90 seconds.
    if method == "otp" and not hub.store.add_once("totp-used", f"{doctor.id}:{code.strip()}", ttl=90):
        method = None
    if method is None:
        hub.audit_event("auth:mfa:failure", doctor_id=doctor.id, address=address)
        return again(_("That code is not valid. Try the current code from your app."), 401, "otp.html")
    if pending.first_factor == "fed":
        # After a brokered sign-in (hub/pages/links.py): the upstream account and the
        # doctor's own second factor, two factors (RFC 8176 "mfa"). No password was checked,
        # so no password counts are forgiven and no device cookie is earned.
        return signed_in(flow, pending, doctor.id, ["fed", "otp", "mfa"],
                         forgive=second.cleared_by_success(otp_attempt))
    password_attempt = Attempt(sha256_hex(doctor.email), address, device)
    return signed_in(flow, pending, doctor.id, ["pwd", "otp", "mfa"], device_account=doctor.email,
                     forgive=passwords.cleared_by_success(password_attempt)
                     + second.cleared_by_success(otp_attempt))


def signed_in(flow: AuthorizeFlow, pending: Pending, doctor_id: str, amr: list[str], *,
              device_account: str | None = None, forgive: Sequence[tuple[str, str]] = ()) -> Response:
    """Start the SSO session and go on with the authorization request. ``forgive`` are the
    attempt counts (Store kind, key) the success clears: a doctor who signs in often, or
    after a typo, is never locked out by their own successes. The browser gets a new
    device cookie for ``device_account`` (the doctor's email): only a complete sign-in
    here, both factors, earns one (the password alone would buy fresh second-factor
    guesses); a sign-in through a linked network names none."""
    hub, request = flow.hub, flow.request
    old = request.cookies.get(hub.sessions.cookie_name)
    if old:
        hub.sessions.end(old)
    cookie, sso = hub.sessions.new(doctor_id, amr)
    hub.store.write_many(puts=[hub.sessions.entry(cookie, sso)], deletes=forgive)
    hub.audit_event("auth:login:success", doctor_id=doctor_id, amr=amr, address=_address(request))
    if pending.params.get(ACCOUNT_NEXT):
        hub.store.delete(AUTHZ_KIND, pending.id)
        resp: Response = redirect("/account", 303)
    else:
        resp = flow.run(pending.params, fresh_login=True, pending_id=pending.id,
                        session=(cookie, sso))
    resp.set_cookie(hub.sessions.cookie_name, cookie, httponly=True, samesite="Lax",
                    secure=hub.sessions.secure, path="/")
    if device_account is None:
        return resp
    devices = device_cookies(hub)
    return devices.set(resp, devices.issue(request.cookies.get(devices.name), device_account))


def consent(flow: AuthorizeFlow) -> Response:
    hub, request = flow.hub, flow.request
    cookie = request.cookies.get(hub.sessions.cookie_name)
    pending, sso = flow.load_pending_and_session(_form(request, "pending", 64), cookie)
    if pending is None or sso is None or cookie is None:
        return flow.pages.error(_("Your consent page expired"), EXPIRED[1])
    flow.localize(pending.params)  # the pages that may follow load the doctor's own
    if _form(request, "decision", 16) != "allow":
        hub.store.delete(AUTHZ_KIND, pending.id)
        return flow.deny(pending.params)
    try:
        flow.record_consent(sso.doctor_id, pending.params.get("client_id", ""), pending.params,
                            shown_at=pending.started or None)
    except OAuth2Error:
        return flow.deny(pending.params)
    return flow.run(pending.params, consent_given=True, pending_id=pending.id,
                    session=(cookie, sso), fresh_login=pending.signed_in_since(sso))
