"""The UserInfo endpoint (OIDC Core §5.3) and its bearer-token errors (RFC 6750 §3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2 import OAuth2Error
from werkzeug.wrappers import Request, Response

from hub.domain import claims as claimset
from hub.protocol.guards import no_store_json
from hub.protocol.server import IssuerJsonRequest

if TYPE_CHECKING:
    from hub.services import Hub


def userinfo_response(hub: Hub, protector: Any, request: Request) -> Response:
    request_or_refusal = _form_token_as_header(request)
    if isinstance(request_or_refusal, Response):
        return request_or_refusal
    try:
        token = protector.validate_request(["openid"],
                                           IssuerJsonRequest(request_or_refusal, hub.settings.issuer))
    except OAuth2Error as error:
        return bearer_error(error)
    client = hub.clients.get(token.client_id)
    doctor = hub.accounts.get(token.doctor_id) if token.doctor_id else None
    refusal = hub.access.refuse_userinfo(token)
    # A suspended network's tokens die with it (RFC 6750 §3.1 invalid_token): the token
    # endpoint stops knowing it (OpenIDProvider.query_client), and access tokens it already
    # holds must not go on reading doctors' data until they expire.
    inactive = client is None or not client.active
    if inactive or doctor is None or doctor.disabled or refusal is not None:
        resp = no_store_json(401, {"error": "invalid_token",
                                   "error_description": refusal or "The token is not valid."})
        resp.headers["WWW-Authenticate"] = 'Bearer realm="curbside", error="invalid_token"'
        return resp
    names = claimset.released(token.claims, token.scope, "userinfo")
    body = {"sub": hub.subject(doctor.id, client), **claimset.doctor_claims(doctor, names)}
    vc_request = claimset.verified_claims_request(token.claims, token.scope, "userinfo")
    body.update(claimset.verification_claims(hub.db, doctor.id, names, vc_request, "userinfo"))
    return no_store_json(200, body)


def bearer_error(error: OAuth2Error) -> Response:
    """RFC 6750 §3: every refusal names the Bearer scheme; a request that sent no token
    gets no error code (§3.1), one with a bad token gets invalid_token."""
    status, body, headers = error()
    # Authlib's unsupported_token_type (another scheme, or "Bearer" with no token) is no
    # RFC 6750 error code: the request carries no bearer token, which §3.1 answers with
    # a challenge and no error code.
    if error.error in ("missing_authorization", "unsupported_token_type"):
        resp = no_store_json(401, {"error": "invalid_request",
                                   "error_description": "A bearer access token is required."})
        resp.headers["WWW-Authenticate"] = 'Bearer realm="curbside"'
        return resp
    resp = no_store_json(status, dict(body))
    for k, v in headers:
        resp.headers[k] = v
    resp.headers.setdefault("WWW-Authenticate", f'Bearer realm="curbside", error="{error.error}"')
    return resp



def _form_token_as_header(request: Request) -> Request | Response:
    """RFC 6750 §2.2: a POST may carry the token as the form field ``access_token`` (the
    default of some certified libraries, e.g. pyoidc). It is checked exactly like a token
    in the header; sending both is refused (§3.1, more than one method)."""
    if request.method != "POST" or request.mimetype != "application/x-www-form-urlencoded":
        return request
    in_body = request.form.get("access_token")
    if in_body is None:
        return request
    if "Authorization" in request.headers:
        resp = no_store_json(400, {"error": "invalid_request", "error_description":
                                   "Send the access token once: in the header or in the body."})
        resp.headers["WWW-Authenticate"] = 'Bearer realm="curbside", error="invalid_request"'
        return resp
    return Request({**request.environ, "HTTP_AUTHORIZATION": f"Bearer {in_body}"})
