"""Doctor-facing pages: sign-in, second factor, consent, sign-out and the account."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
)
from sqlalchemy import select, update
from werkzeug.wrappers import Response  # Flask's and the sign-in lane's answers alike

from hub.domain.crypto import sha256_hex
from hub.domain.sessions import SSOSession
from hub.pages.own_sign_in import shows_own_authentication
from hub.persistence.db import utcnow
from hub.persistence.models.grants import Consent
from hub.protocol.authorize import AuthorizeFlow, as_same_site_get
from hub.protocol.signin import ACCOUNT_NEXT

bp = Blueprint("web", __name__)


def _hub() -> Any:
    return current_app.extensions["curbside"]


def _flow() -> AuthorizeFlow:
    return AuthorizeFlow(_hub(), current_app.extensions["curbside.provider"],
                         request._get_current_object(),  # type: ignore[attr-defined]
                         current_app.extensions["curbside.pages"])


def error_page(title: str, detail: str, status: int = 400) -> Response:
    return current_app.extensions["curbside.pages"].error(title, detail, status)  # type: ignore[no-any-return]


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _session() -> tuple[str | None, SSOSession | None]:
    hub = _hub()
    cookie = request.cookies.get(hub.sessions.cookie_name)
    return cookie, hub.sessions.load(cookie)


def csrf_token(cookie: str) -> str:
    return _hub().secrets.keyed_hash("csrf", sha256_hex(cookie))[:32]


def _check_csrf(cookie: str | None) -> None:
    sent = request.form.get("csrf", "")
    if not cookie or not hmac.compare_digest(sent, csrf_token(cookie)):
        abort(400, "This form has expired. Go back, reload the page and try again.")


def _form(name: str, limit: int = 1024) -> str:
    value = request.form.get(name, "")
    return value[:limit]


# -- sign-out (RP-Initiated Logout 1.0) ---------------------------------------------------------
@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response:
    hub = _hub()
    # Our own confirmation form is answered as it came (its CSRF check refuses it below).
    bounced = None if "confirm" in request.form else as_same_site_get(
        request, "/logout", hub.sessions.cookie_name)
    if bounced is not None:
        return bounced
    provider = current_app.extensions["curbside.provider"]
    try:
        req = provider.validate_endpoint_request("end_session")
    except OAuth2Error:
        return error_page("This sign-out link is not valid",
                          "You are still signed in. Sign out from your Curbside account page.")
    cookie, sso = _session()
    hinted_sid = (req.id_token_claims or {}).get("sid")
    confirmed = request.method == "POST" and _form("confirm", 8) == "yes"
    if confirmed:
        _check_csrf(cookie)
    if sso is not None and not confirmed and not (hinted_sid and hinted_sid == sso.sid):
        # Without proof the RP holds this session's ID token, ask before signing out
        # (RP-Initiated Logout §2, so a third party cannot sign the doctor out).
        html = render_template("logout_confirm.html", csrf=csrf_token(cookie or ""),
                               client_name=req.client.name if req.client else None,
                               params=request.values.to_dict())
        return make_response(html)
    if sso is not None:
        hub.sessions.end(cookie)
        hub.audit_event("auth:logout:success", doctor_id=sso.doctor_id,
                        client_id=req.client.client_id if req.client else None, initiator="rp")
        from hub.relying import backchannel  # Back-Channel Logout 1.0: tell the other networks

        backchannel.session_ended(hub, sso, trigger="rp_logout",
                                  initiator=req.client.client_id if req.client else None)
    resp = provider.create_endpoint_response("end_session", req)
    if resp is None:
        resp = _logged_out_page(req.client)
    resp.delete_cookie(hub.sessions.cookie_name, path="/", secure=hub.sessions.secure,
                       httponly=True, samesite="Lax")
    return resp


def _logged_out_page(client: Any) -> Response:
    """The page after a sign-out that does not redirect. A return address registered for
    the client but not proven by an id_token_hint becomes a link the doctor may follow
    (RP-Initiated Logout §3 forbids only the automatic redirect); any other address is
    never offered, and the doctor is told why they stay here (§4)."""
    asked = (request.values.get("post_logout_redirect_uri") or "")[:2048]
    back = None
    if asked and client is not None and asked in client.post_logout_redirect_uris:
        state = (request.values.get("state") or "")[:512]
        back = add_params_to_uri(asked, {"state": state}) if state else asked
    return make_response(render_template(
        "logged_out.html", back=back, client_name=client.name if client else None,
        unregistered_return=bool(asked) and back is None))


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
                                         networks=networks, csrf=csrf_token(cookie)))


def _active_sessions(s: Any, doctor_id: str, session_ttl: int) -> dict[str, tuple[int, Any]]:
    """Per network: grants that can still act for the doctor (signed in within the session
    lifetime, or holding a live refresh token), and the latest sign-in."""
    from datetime import timedelta

    from sqlalchemy import func, or_

    from hub.persistence.models.grants import Grant, RefreshToken

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
        return error_page("Sign in with your password first",
                          "Setting up an authenticator needs your own Curbside password (and "
                          "your current code, if one is set up). Sign out, sign in with them, "
                          "then set up the new one.", 403)
    if request.method == "GET":
        enrolment = hub.accounts.begin_totp(doctor)
        hub.store.put("totp-enrol", sso.sid, enrolment.secret.encode(), ttl=900)
        return make_response(render_template("mfa.html", enrolment=enrolment,
                                             csrf=csrf_token(cookie), error=None))
    _check_csrf(cookie)
    secret = hub.store.get("totp-enrol", sso.sid)
    if secret is None:
        return redirect("/account/mfa", 303)
    from hub.domain.accounts import AccountError

    try:
        codes = hub.accounts.confirm_totp(doctor.id, secret.decode(), _form("otp", 16))
    except AccountError as e:
        enrolment = hub.accounts.begin_totp(doctor)
        hub.store.put("totp-enrol", sso.sid, enrolment.secret.encode(), ttl=900)
        html = render_template("mfa.html", enrolment=enrolment, csrf=csrf_token(cookie),
                               error=str(e).capitalize() + ".")
        return make_response(html, 400)
    hub.store.delete("totp-enrol", sso.sid)
    hub.audit_event("auth:mfa:enrol", doctor_id=doctor.id)
    return make_response(render_template("recovery_codes.html", codes=codes))


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
    from hub.relying import backchannel  # Back-Channel Logout 1.0 for that network's sessions

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
        from hub.relying import backchannel  # Back-Channel Logout 1.0: tell every network

        backchannel.session_ended(hub, sso, trigger="doctor_logout")
    resp = make_response(render_template("logged_out.html"))
    resp.delete_cookie(hub.sessions.cookie_name, path="/")
    return resp
