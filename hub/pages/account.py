"""Doctor-facing pages: the account, its second factor, consents and sign-out (the sign-in
forms and RP-initiated logout are protocol endpoints, hub/protocol/app.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import segno
from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
)
from markupsafe import Markup
from sqlalchemy import func, or_, select, update
from werkzeug.wrappers import Response  # Flask's and the protocol app's answers alike

from hub import i18n
from hub.domain.accounts import AccountError
from hub.domain.sessions import SSOSession
from hub.i18n import gettext as _
from hub.i18n import lazy_gettext as _l
from hub.pages.own_sign_in import shows_own_authentication
from hub.persistence.db import utcnow
from hub.persistence.models.accounts import Doctor
from hub.persistence.models.grants import Consent, Grant, RefreshToken
from hub.protocol import csrf
from hub.protocol.authorize import AuthorizeFlow
from hub.protocol.csrf import csrf_token as _csrf_token
from hub.protocol.csrf import csrf_valid
from hub.protocol.signin import ACCOUNT_NEXT
from hub.relying import backchannel  # Back-Channel Logout 1.0: logouts tell the other networks

bp = Blueprint("web", __name__)
FORM_EXPIRED = _l("This form has expired. Go back, reload the page and try again.")


def _hub() -> Any:
    return current_app.extensions["curbside"]


def _flow() -> AuthorizeFlow:
    return AuthorizeFlow(_hub(), current_app.extensions["curbside.provider"],
                         request._get_current_object(),  # type: ignore[attr-defined]
                         current_app.extensions["curbside.pages"])


def error_page(title: Any, detail: Any, status: int = 400) -> Response:
    return current_app.extensions["curbside.pages"].error(title, detail, status)  # type: ignore[no-any-return]


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _session() -> tuple[str | None, SSOSession | None]:
    hub = _hub()
    cookie = request.cookies.get(hub.sessions.cookie_name)
    return cookie, hub.sessions.load(cookie)


def csrf_token(cookie: str) -> str:
    return _csrf_token(_hub().secrets, csrf.DOCTOR, cookie)


def _check_csrf(cookie: str | None) -> None:
    if not csrf_valid(_hub().secrets, csrf.DOCTOR, cookie, request.form.get("csrf", "")):
        abort(400, FORM_EXPIRED)


def _form(name: str, limit: int = 1024) -> str:
    value = request.form.get(name, "")
    return value[:limit]


# -- the account ------------------------------------------------------------------------------
def doctor_view(*, form: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page of the signed-in doctor's account: without a session it answers with the
    sign-in page; a form (POST) must carry the CSRF token. The view gets (cookie, session)."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            got = _require_session()
            if isinstance(got, Response):
                return got
            cookie, sso = got
            if form:
                _check_csrf(cookie)
            return view(cookie, sso, *args, **kwargs)

        return inner

    return wrap


def _require_session() -> tuple[str, SSOSession] | Response:
    cookie, sso = _session()
    if cookie is None or sso is None:
        flow = _flow()
        pending, set_cookie = flow.pending({ACCOUNT_NEXT: "1"}, None)
        html = flow.pages.render("login.html", pending=pending.id, client_name="",
                                 login_hint="", error=None)
        return flow.respond(html, set_cookie)
    return cookie, sso


@bp.get("/")
def home() -> Response:
    _, sso = _session()
    return make_response(render_template("home.html", signed_in=sso is not None))


@bp.get("/account")
@doctor_view(form=False)
def account(cookie: str, sso: SSOSession) -> Response:
    hub = _hub()
    doctor = hub.accounts.get(sso.doctor_id)
    with hub.db.session() as s:
        consents = s.scalars(select(Consent).where(Consent.doctor_id == sso.doctor_id,
                                                   Consent.revoked_at.is_(None))).all()
        sessions = _active_sessions(s, sso.doctor_id, hub.settings.session_ttl)
    networks = [(c, hub.clients.get(c.client_id), sessions.get(c.client_id, (0, None)))
                for c in consents]
    return make_response(render_template("account.html", doctor=doctor, sso=sso,
                                         networks=networks, csrf=csrf_token(cookie),
                                         languages=i18n.language_names()))


@bp.post("/account/language")
@doctor_view(form=True)
def account_language(cookie: str, sso: SSOSession) -> Response:
    """The doctor's language, saved as their locale (also the OIDC ``locale`` claim)."""
    locale = i18n.supported(_form("locale", 16))
    if locale is None:
        return error_page(_("This language is not available"),
                          _("Curbside's pages are in English, Dutch and Danish."))
    hub = _hub()
    with hub.db.session() as s:
        s.execute(update(Doctor).where(Doctor.id == sso.doctor_id).values(locale=locale))
    return redirect("/account", 303)


def _active_sessions(s: Any, doctor_id: str, session_ttl: int) -> dict[str, tuple[int, Any]]:
    """Per network: grants that can still act for the doctor (signed in within the session
    lifetime, or holding a live refresh token), and the latest sign-in."""
    now = utcnow()
    live_refresh = (select(RefreshToken.grant_id)
                    .where(RefreshToken.revoked_at.is_(None), RefreshToken.rotated_at.is_(None),
                           RefreshToken.expires_at > now))
    rows = s.execute(
        select(Grant.client_id, func.count(), func.max(Grant.created_at))
        .where(Grant.doctor_id == doctor_id, Grant.revoked_at.is_(None),
               or_(Grant.created_at > now - timedelta(seconds=session_ttl), Grant.id.in_(live_refresh)))
        .group_by(Grant.client_id)
    ).all()
    return {client_id: (count, latest) for client_id, count, latest in rows}


@bp.route("/account/mfa", methods=["GET", "POST"])
def account_mfa() -> Response:
    got = _require_session()
    if isinstance(got, Response):
        return got
    cookie, sso = got
    hub = _hub()
    doctor = hub.accounts.get(sso.doctor_id)
    if not shows_own_authentication(sso, doctor):
        # NIST SP 800-63B §6.1.2.1: binding or replacing an authenticator needs the
        # account's own factors. A session that never proved them (a brokered sign-in,
        # amr "fed"; one made before enrolment) would otherwise set or swap the doctor's
        # TOTP secret and recovery codes for its own, and lock her out of her account.
        return error_page(_("Sign in with your password first"),
                          _("Setting up an authenticator needs your own Curbside password (and "
                            "your current code, if one is set up). Sign out, sign in with them, "
                            "then set up the new one."), 403)
    if request.method == "GET":
        return _totp_enrolment_page(hub, doctor, sso, cookie)
    _check_csrf(cookie)
    secret = hub.store.get("totp-enrol", sso.sid)
    if secret is None:
        return redirect("/account/mfa", 303)
    try:
        codes = hub.accounts.confirm_totp(doctor.id, secret.decode(), _form("otp", 16))
    except AccountError as e:
        return _totp_enrolment_page(hub, doctor, sso, cookie, error=_(
            "That code did not match. Check that your phone's clock is right and try the new code.")
            if "did not match" in str(e) else str(e).capitalize() + ".")
    hub.store.delete("totp-enrol", sso.sid)
    hub.audit_event("auth:mfa:enrol", doctor_id=doctor.id)
    return make_response(render_template("recovery_codes.html", codes=codes))


def _totp_enrolment_page(hub: Any, doctor: Any, sso: SSOSession, cookie: str,
                         error: str | None = None) -> Response:
    """A new TOTP secret for this session, shown as a QR code of its otpauth URI and as
    the key itself (for apps that cannot scan, or a doctor enrolling on the same phone)."""
    enrolment = hub.accounts.begin_totp(doctor)
    hub.store.put("totp-enrol", sso.sid, enrolment.secret.encode(), ttl=900)
    html = render_template("mfa.html", enrolment=enrolment, qr=totp_qr_svg(enrolment.uri),
                           csrf=csrf_token(cookie), error=error)
    return make_response(html, 400 if error else 200)


def totp_qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code: inline markup needs no image source, so
    the pages' CSP (img-src 'self', no inline style or script) allows it. Error correction
    M survives a slightly blurred phone camera; a white quiet zone keeps it scannable on
    any background. segno escapes the title; the rest is its own path data."""
    qr = segno.make(uri, error="m", micro=False)
    svg = qr.svg_inline(scale=5, border=4, dark="#000", light="#fff", svgclass="qr",
                        title=_("QR code for your authenticator app"))
    return Markup(svg)  # noqa: S704 (segno's own markup; the URI is encoded in the path data)


@bp.post("/account/consents/<int:consent_id>/revoke")
@doctor_view(form=True)
def revoke_consent(cookie: str, sso: SSOSession, consent_id: int) -> Response:
    hub = _hub()
    with hub.db.session() as s:
        c = s.get(Consent, consent_id)
        if c is None or c.doctor_id != sso.doctor_id:
            abort(404)
        client_id = c.client_id
        s.execute(update(Consent).where(Consent.doctor_id == sso.doctor_id,
                                        Consent.client_id == client_id,
                                        Consent.revoked_at.is_(None)).values(revoked_at=utcnow()))
    backchannel.grants_ending(hub, sso.doctor_id, client_id=client_id, trigger="consent_revoked")
    hub.tokens.revoke_grants_of(sso.doctor_id, client_id=client_id, reason="consent_revoked")
    hub.audit_event("doctor:consent:revoke", doctor_id=sso.doctor_id, client_id=client_id)
    return redirect("/account", 303)


@bp.post("/account/logout")
def account_logout() -> Response:
    hub = _hub()
    cookie, sso = _session()
    _check_csrf(cookie)
    hub.sessions.end(cookie)
    if sso is not None:
        hub.audit_event("auth:logout:success", doctor_id=sso.doctor_id, initiator="doctor")
        backchannel.session_ended(hub, sso, trigger="doctor_logout")
    resp = make_response(render_template("logged_out.html"))
    resp.delete_cookie(hub.sessions.cookie_name, path="/")
    return resp
