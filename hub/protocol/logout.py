"""The end-session endpoint, GET/POST /logout (RP-Initiated Logout 1.0), on Authlib's
EndSessionEndpoint (hub/protocol/server.py), answered by the protocol app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from werkzeug.wrappers import Request, Response

from hub import i18n
from hub.i18n import lazy_gettext as _
from hub.protocol.authorize import as_same_site_get
from hub.protocol.csrf import DOCTOR, csrf_token, csrf_valid
from hub.relying import backchannel

if TYPE_CHECKING:
    from hub.pages.rendering import Pages
    from hub.protocol.server import OpenIDProvider
    from hub.services import Hub

FORM_EXPIRED = _("This form has expired. Go back, reload the page and try again.")


def end_session(hub: Hub, provider: OpenIDProvider, pages: Pages, request: Request) -> Response:
    # Our own confirmation form is answered as it came (its CSRF check refuses it below).
    bounced = None if "confirm" in request.form else as_same_site_get(
        request, "/logout", hub.sessions.cookie_name)
    if bounced is not None:
        return bounced
    try:
        req = provider.validate_endpoint_request("end_session", request)
    except OAuth2Error:
        return pages.error(_("This sign-out link is not valid"),
                           _("You are still signed in. Sign out from your Curbside account page."))
    cookie = request.cookies.get(hub.sessions.cookie_name)
    sso = hub.sessions.load(cookie)
    hinted_sid = (req.id_token_claims or {}).get("sid")
    confirmed = request.method == "POST" and request.form.get("confirm", "")[:8] == "yes"
    if confirmed and not csrf_valid(hub.secrets, DOCTOR, cookie, request.form.get("csrf", "")):
        return pages.error(_("This request cannot be completed"), FORM_EXPIRED)
    if sso is not None and not confirmed and not (hinted_sid and hinted_sid == sso.sid):
        # Without proof the RP holds this session's ID token, ask before signing out
        # (RP-Initiated Logout §2, so a third party cannot sign the doctor out).
        _speak_to(hub, request, sso.doctor_id)
        return pages.html("logout_confirm.html", csrf=csrf_token(hub.secrets, DOCTOR, cookie or ""),
                          client_name=req.client.name if req.client else None,
                          params=request.values.to_dict())
    if sso is not None:
        hub.sessions.end(cookie)
        hub.audit_event("auth:logout:success", doctor_id=sso.doctor_id,
                        client_id=req.client.client_id if req.client else None, initiator="rp")
        # Back-Channel Logout 1.0: tell the other networks.
        backchannel.session_ended(hub, sso, trigger="rp_logout",
                                  initiator=req.client.client_id if req.client else None)
    resp = provider.create_endpoint_response("end_session", req)
    if resp is None:
        resp = _logged_out_page(pages, request, req.client)
    resp.delete_cookie(hub.sessions.cookie_name, path="/", secure=hub.sessions.secure,
                       httponly=True, samesite="Lax")
    return resp  # type: ignore[no-any-return]


def _logged_out_page(pages: Pages, request: Request, client: Any) -> Response:
    """The page after a sign-out that does not redirect. A return address registered for
    the client but not proven by an id_token_hint becomes a link the doctor may follow
    (RP-Initiated Logout §3 forbids only the automatic redirect); any other address is
    never offered, and the doctor is told why they stay here (§4)."""
    asked = (request.values.get("post_logout_redirect_uri") or "")[:2048]
    back = None
    if asked and client is not None and asked in client.post_logout_redirect_uris:
        state = (request.values.get("state") or "")[:512]
        back = add_params_to_uri(asked, {"state": state}) if state else asked
    return pages.html("logged_out.html", back=back, client_name=client.name if client else None,
                      unregistered_return=bool(asked) and back is None)


def _speak_to(hub: Hub, request: Request, doctor_id: str) -> None:
    """The confirmation in the request's ui_locales, else the doctor's language (hub/i18n.py)."""
    doctor = hub.accounts.get(doctor_id)
    i18n.choose(i18n.negotiate(request.values.get("ui_locales"), doctor.locale if doctor else None,
                               request.accept_languages))
