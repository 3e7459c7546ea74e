"""The OpenID Provider: Authlib's framework-neutral authorization server, answering werkzeug
requests (the protocol app, hub/protocol/app.py), with our grants and endpoints."""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cached_property
from typing import TYPE_CHECKING, Any

from authlib.oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidClientError,
    InvalidRequestError,
    JsonPayload,
    JsonRequest,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.rpinitiated import EndSessionEndpoint
from werkzeug.wrappers import Request, Response

from hub.domain.crypto import new_token
from hub.domain.keys import SUPPORTED_ALGS
from hub.domain.tokens import AccessToken, RefreshTokenView
from hub.ops.metrics import count_token
from hub.protocol.grants import (
    SECRET_METHODS,
    SIGN_IN_AUTH_METHODS,
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    OpenIDCode,
    RefreshTokenGrant,
    RequireS256,
)
from hub.protocol.guards import malformed_authorization

if TYPE_CHECKING:
    from hub.services import Hub


class WerkzeugPayload(OAuth2Payload):  # type: ignore[misc]
    """The query and form parameters of a werkzeug request, as Authlib reads them."""

    def __init__(self, request: Request) -> None:
        self._request = request

    @property
    def data(self) -> Any:
        return self._request.values

    @cached_property
    def datalist(self) -> dict[str, list[str]]:
        values: dict[str, list[str]] = defaultdict(list)
        for k in self.data:
            values[k].extend(self.data.getlist(k))
        return values


class IssuerOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """Authlib's view of a werkzeug request, at the URI the issuer names.

    Authlib refuses a plain-http request URI ("OAuth 2 MUST utilize https"), and behind the
    TLS proxy every deployment has, gunicorn sees http unless it was told to trust that
    proxy's headers. The issuer is https (Settings insists) and is where clients reach the
    hub, so the URI is built from it; werkzeug's ``request.url`` was a tenth of a token
    request.
    """

    def __init__(self, request: Request, issuer: str) -> None:
        super().__init__(method=request.method, uri=issuer + request.path)
        # Set after: Authlib's ``headers or {}`` would count werkzeug's headers, a walk
        # over the whole WSGI environ.
        self.headers = request.headers
        self._request = request
        self.payload = WerkzeugPayload(request)

    @property
    def args(self) -> Any:
        return self._request.args

    @property
    def form(self) -> Any:
        return self._request.form


class WerkzeugJsonPayload(JsonPayload):  # type: ignore[misc]
    def __init__(self, request: Request) -> None:
        self._request = request

    @property
    def data(self) -> Any:
        return self._request.get_json(silent=True)


class IssuerJsonRequest(JsonRequest):  # type: ignore[misc]
    """``IssuerOAuth2Request`` for the resource endpoints (userinfo)."""

    def __init__(self, request: Request, issuer: str) -> None:
        super().__init__(request.method, issuer + request.path)
        self.headers = request.headers  # as IssuerOAuth2Request
        self.payload = WerkzeugJsonPayload(request)


class StoredAuthorizationRequest(OAuth2Request):  # type: ignore[misc]
    """An authorization request resumed from the Store after the login or consent page."""

    def __init__(self, uri: str, params: dict[str, str]) -> None:
        super().__init__("GET", uri)
        self.payload = BasicOAuth2Payload(params)
        self._params = params
        # Store writes the grant makes while answering (the authorization code), which the
        # caller sends with its own in one round trip (AuthorizeFlow.run).
        self.store_writes: list[tuple[str, str, bytes, int]] = []

    @property
    def args(self) -> dict[str, str]:
        return self._params

    @property
    def form(self) -> dict[str, str]:
        return {}


class IssuerInAuthorizationResponse(IssuerParameter):  # type: ignore[misc]
    """RFC 9207 §2: every authorization response, errors included, names the issuer."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class OpenIDProvider(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.hub = hub
        self.issuer_parameter = IssuerInAuthorizationResponse(hub.settings.issuer)
        self.register_extension(self.issuer_parameter)
        self.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda *a, **k: new_token(32),
            refresh_token_generator=lambda *a, **k: new_token(32),
            expires_generator=lambda client, grant_type: hub.settings.access_token_ttl,
        ))
        self.register_grant(AuthorizationCodeGrant, [RequireS256(required=True), OpenIDCode()])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)
        self.register_endpoint(EndSession)

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        return Response(payload, status=status_code, headers=headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's hook for a framework's signals; the hub audits in its own hooks."""

    def create_oauth2_request(self, request: Request | OAuth2Request) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return IssuerOAuth2Request(request, self.hub.settings.issuer)

    def create_json_request(self, request: Request) -> JsonRequest:
        return IssuerJsonRequest(request, self.hub.settings.issuer)

    def with_issuer(self, resp: Response) -> Response:
        """RFC 9207 on an authorization error answered outside Authlib's own
        create_authorization_response (which the extension hooks)."""
        self.issuer_parameter.add_issuer_parameter(self, resp)
        return resp

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Any:
        # Authlib raises on Basic credentials that are not base64 of UTF-8 (a 500); the
        # endpoints' views refuse them first, this keeps any other caller safe.
        if malformed_authorization(request.headers.get("Authorization")):
            raise ClientAuthenticationFailed(status_code=401)
        # RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a
        # request. Basic plus a client_secret in the body named two clients (or one twice);
        # Authlib took the first that worked, so what a log or a proxy read from the body
        # was not the client the hub authenticated.
        if (request.headers.get("Authorization", "")[:6].lower() == "basic "
                and "client_secret" in request.payload.data):
            raise InvalidRequestError("Authenticate the client with one method only.")
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as e:
            raise ClientAuthenticationFailed(status_code=e.status_code) from None

    def query_client(self, client_id: str) -> Any:
        client = self.hub.clients.get(client_id)
        # A pending or suspended network is unknown to the protocol until approved.
        return client if client is not None and client.active else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        hub = self.hub
        client = request.client
        grant_type = request.payload.grant_type
        grant_id: str | None = None
        release: dict[str, Any] | None = None
        user = request.user
        if grant_type == "authorization_code":
            code = request.stored_code
            grant_id, release = code.grant_id, code.claims
            # The doctor is read with the grant's insert; the ID token, built next by
            # Authlib's process_token hook, takes the claims from it (IdTokens).
            request.doctor = hub.accounts.get_after(hub.tokens.grant_insert({
                "id": grant_id, "client_id": client.client_id, "doctor_id": user.doctor_id,
                "scope": code.scope, "claims": release, "sid": user.sid,
                "auth_time": user.auth_time, "acr": user.acr, "amr": user.amr}), user.doctor_id)
        elif grant_type == "refresh_token":
            g = request.refresh_token.grant
            grant_id, release = g.id, g.claims
        # Authlib adds the ID token (and its at_hash) after this call, so the final access
        # token string is set here.
        token["access_token"] = hub.tokens.access_token_for(token["access_token"], grant_id)
        hub.tokens.save_access_token(
            token["access_token"], client_id=client.client_id, scope=token.get("scope", ""),
            grant_id=grant_id, doctor_id=user.doctor_id if user else None, claims=release)
        if token.get("refresh_token") and grant_id:
            # A new grant's first refresh token; a refresh grant's successor is stored by
            # RefreshTokenGrant.save_token (one successor per token).
            hub.tokens.save_refresh_token(token["refresh_token"], grant_id)
        count_token(grant_type)


# RFC 6749 §5.2: a 401 names the scheme the client used; RFC 7617 §2: with a realm.
BASIC_CHALLENGE = 'Basic realm="curbside", error="invalid_client"'


class ClientAuthenticationFailed(InvalidClientError):  # type: ignore[misc]
    """invalid_client without naming the methods tried (Authlib lists them as a Python
    list), and, on a 401, the Basic challenge with the realm RFC 7617 requires."""

    def __init__(self, status_code: int) -> None:
        super().__init__(description="Client authentication failed.", status_code=status_code)

    def get_headers(self) -> list[tuple[str, str]]:
        headers = [(k, v) for k, v in super().get_headers() if k.lower() != "www-authenticate"]
        if self.status_code == 401:
            headers.append(("WWW-Authenticate", BASIC_CHALLENGE))
        return headers


class _IgnoresUnknownHints:
    """RFC 7009 §2.1 and RFC 7662 §2.1: an unknown token_type_hint is ignored (the search
    covers every token type), not refused as Authlib does."""

    def check_params(self, request: Any, client: Any) -> None:
        if "token" not in request.form:
            raise InvalidRequestError()


def _find_any_token(hub: Hub, token: str, hint: str | None) -> AccessToken | RefreshTokenView | None:
    if hint != "refresh_token":
        at = hub.tokens.find_access_token(token)
        if at is not None:
            return at
    rt, _ = hub.tokens.find_refresh_token(token)
    if rt is not None and rt.rotated_at_age is None:
        return rt
    if hint == "refresh_token":
        return hub.tokens.find_access_token(token)
    return None


class Introspection(_IgnoresUnknownHints, IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662. A client may introspect only its own tokens: telling any caller which
    doctor a token belongs to would let networks correlate doctors."""

    # A federation member has no secret: it introspects with private_key_jwt (RFC 7523 §2.2).
    CLIENT_AUTH_METHODS = [*SECRET_METHODS, "private_key_jwt"]

    def query_token(self, token: str, token_type_hint: str | None) -> Any:
        if not token or len(token) > 512:
            return None
        return _find_any_token(self.server.hub, token, token_type_hint)

    def check_permission(self, token: Any, client: Any, request: Any) -> bool:
        return bool(token.check_client(client))

    def introspect_token(self, token: Any) -> dict[str, Any]:
        hub: Hub = self.server.hub
        client = hub.clients.get(token.grant.client_id if isinstance(token, RefreshTokenView)
                                 else token.client_id)
        out: dict[str, Any] = {"active": True, "iss": hub.settings.issuer}
        if isinstance(token, AccessToken):
            out.update(scope=token.scope, client_id=token.client_id, token_type="Bearer",
                       exp=token.expires_at, iat=token.issued_at, aud=token.client_id)
            doctor_id = token.doctor_id
        else:
            # No token_type: RFC 7662 §2.2 means an access token type (RFC 6749 §7.1).
            out.update(scope=token.grant.scope, client_id=token.grant.client_id)
            doctor_id = token.grant.doctor_id
        if doctor_id and client is not None:
            out["sub"] = hub.subject(doctor_id, client)
        return out


class Revocation(_IgnoresUnknownHints, RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Public clients revoke with their client_id only (§2.1)."""

    CLIENT_AUTH_METHODS = SIGN_IN_AUTH_METHODS  # with the federation members' private_key_jwt

    def query_token(self, token: str, token_type_hint: str | None) -> Any:
        if not token or len(token) > 512:
            return None
        return _find_any_token(self.server.hub, token, token_type_hint)

    def revoke_token(self, token: Any, request: Any) -> None:
        hub: Hub = self.server.hub
        if isinstance(token, AccessToken):
            # RFC 7009 §2.1: the token this request sent, the one whose client was checked.
            # Read from the request, never kept on the endpoint: Authlib shares one endpoint
            # object between the server's threads, and a value kept there between
            # ``query_token`` and here could be another request's token.
            hub.tokens.revoke_access_token(request.form["token"])
        else:
            hub.tokens.revoke_grant(token.grant.id, reason="revoked")
            hub.audit_event("oidc:grant:revoke", actor=token.grant.client_id,
                            doctor_id=token.grant.doctor_id, client_id=token.grant.client_id,
                            reason="client_revoked_refresh_token")


class EndSession(EndSessionEndpoint):  # type: ignore[misc]
    """RP-Initiated Logout 1.0: exact post_logout_redirect_uri match, state echoed."""

    def get_server_jwks(self) -> Any:
        return self.server.hub.keys.verifying_keys()

    def get_algorithms(self) -> list[str]:
        # Never "none", never HMAC: an id_token_hint must carry one of our signatures.
        return list(SUPPORTED_ALGS)

    def end_session(self, end_session_request: Any) -> None:
        """The view ends the browser's session; nothing to do at protocol level."""


class AccessTokenValidator(BearerTokenValidator):  # type: ignore[misc]
    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.hub = hub

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        return self.hub.tokens.find_access_token(token_string)


def resource_protector(hub: Hub) -> ResourceProtector:
    """Authlib's framework-neutral protector: userinfo hands it an IssuerJsonRequest."""
    rp = ResourceProtector()
    rp.register_token_validator(AccessTokenValidator(hub))
    return rp
