"""Dynamic Client Registration (RFC 7591) and its management protocol (RFC 7592), on
Authlib's ``ClientRegistrationEndpoint`` and ``ClientConfigurationEndpoint``.

The one entry point takes and returns werkzeug objects, so any WSGI front door can mount it::

    registration_endpoint(hub, request, client_id=None, action=None) -> werkzeug Response

    POST /register                       client_id=None
    GET | PUT | DELETE /register/<id>    client_id=<id>          (RFC 7592 §2.1-2.3)
    POST /register/<id>/secret           client_id=<id>, action="secret"

The caller parses ``<id>`` from the path; any other method answers 405. Exceptions other
than OAuth errors (an outage, a bug) go up to the caller's error layer. ``bp`` is the Flask
adapter that mounts it until the protocol app serves these paths.

The subclasses fill in Authlib's storage and policy hooks only:
- ``POST /register`` needs an initial access token an admin issued (RFC 7591 §3, ``hub
  client initial-token``); Authlib authenticates it before it reads the body. One use is
  spent in ``save_client``, once the metadata is valid. A new client starts ``pending``
  until an admin approves it.
- the metadata are checked by ``HubMetadataClaims``: the hub's own rules
  (hub/domain/client_metadata.py), then Authlib's RFC 7591 checks against the discovery
  document, then the sector document is fetched through the guarded outbound client.
- ``/register/<id>`` needs that client's registration access token (RFC 7592 §2). The hub
  keeps only its SHA-256 and does not rotate it, so an answer names the token the request
  proved (RFC 7592 §3). A replacement that changes what an admin reviewed puts an active
  client back to ``pending`` and ends the doctors' consents and grants to it
  (docs/decisions.md).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import AuthorizationServer, InvalidRequestError, JsonPayload, JsonRequest
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7591 import (
    ClientMetadataClaims,
    ClientRegistrationEndpoint,
    InvalidClientMetadataError,
    InvalidRedirectURIError,
)
from authlib.oauth2.rfc7592 import ClientConfigurationEndpoint
from flask import Blueprint, current_app
from flask import request as flask_request
from sqlalchemy import case, select, update
from werkzeug.wrappers import Request, Response

from hub.domain.client_metadata import (
    KNOWN,
    REVIEWED,
    ClientMetadataError,
    check_sector_identifier,
    parse_metadata_json,
    strict_metadata,
)
from hub.domain.clients import Client, new_client_id
from hub.domain.crypto import new_token, sha256_hex
from hub.outbound import Outbound
from hub.persistence.db import utcnow
from hub.persistence.models.clients import ClientRecord
from hub.persistence.models.grants import Consent, Grant
from hub.persistence.models.relying import InitialAccessToken, RegistrationAccessToken
from hub.protocol.discovery import provider_metadata
from hub.relying.policy import store as policy_store

if TYPE_CHECKING:
    from hub.services import Hub

REALM = "curbside"
MAX_BEARER = 600  # tokens the hub issues are 43 characters; longer is not one of them


# -- admin side -------------------------------------------------------------------------------
def issue_initial_token(hub: Hub, *, label: str = "", ttl: int = 7 * 86400, uses: int = 1,
                        actor: str = "cli", operator_id: str | None = None) -> str:
    """A Bearer token for POST /register; shown once, stored as its SHA-256."""
    token = new_token(32)
    with hub.db.session() as s:
        s.add(InitialAccessToken(token_hash=sha256_hex(token), label=label[:200], created_by=actor[:100],
                                 expires_at=utcnow() + timedelta(seconds=ttl), uses_left=max(uses, 1),
                                 operator_id=operator_id))
    hub.audit_event("client:initial_token:issue", actor=actor, label=label or None, uses=uses, ttl=ttl)
    return token


# -- the entry point ----------------------------------------------------------------------------
def registration_endpoint(hub: Hub, request: Request, client_id: str | None = None,
                          action: str | None = None) -> Response:
    """Answer one registration request (see the module docstring for the paths)."""
    server = RegistrationServer(hub)
    req = RegistrationRequest(request, hub.settings.issuer, client_id)
    if client_id is None:
        name, methods = ClientRegistration.ENDPOINT_NAME, ("POST",)
    elif action == "secret":
        name, methods = ClientSecretRotation.ENDPOINT_NAME, ("POST",)
    elif action is not None:
        return server.handle_response(404, {"error": "invalid_request",
                                            "error_description": "Not found."}, default_json_headers)
    else:
        name, methods = ClientConfiguration.ENDPOINT_NAME, ("GET", "PUT", "DELETE")
    if request.method not in methods:
        resp = server.handle_response(405, {"error": "invalid_request",
                                            "error_description": "Method not allowed."},
                                      default_json_headers)
        resp.headers["Allow"] = ", ".join(methods)
        return resp
    return server.create_endpoint_response(name, req)  # type: ignore[no-any-return]


class RegistrationServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's framework-neutral server, holding the registration endpoints only."""

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.hub = hub
        self.register_endpoint(ClientRegistration)
        self.register_endpoint(ClientConfiguration)
        self.register_endpoint(ClientSecretRotation)

    def create_json_request(self, request: Any) -> JsonRequest:
        return request  # registration_endpoint built it (RegistrationRequest)

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        if isinstance(body, dict):
            # RFC 7591 §3.2.1: a member the hub did not issue (a public client's secret) is
            # left out, not sent as null.
            body = json.dumps({k: v for k, v in body.items() if v is not None})
        return Response(body, status=status, headers=headers)


class MetadataPayload(JsonPayload):  # type: ignore[misc]
    """The client metadata document, read only when an endpoint first asks for it: after
    the token is authenticated (RFC 7591 §3), never for a request that fails it."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._data: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            if not self._request.is_json:
                raise InvalidClientMetadataError("Send the metadata as application/json.")
            try:
                self._data = parse_metadata_json(self._request.get_data(cache=False))
            except ClientMetadataError as e:
                raise metadata_error(e) from None
        return self._data


class RegistrationRequest(JsonRequest):  # type: ignore[misc]
    """Authlib's view of a registration request, at the URI the issuer names (as
    hub/protocol/server.py's IssuerOAuth2Request), with the client id from the path."""

    def __init__(self, request: Request, issuer: str, client_id: str | None) -> None:
        JsonRequest.__init__(self, request.method, issuer + request.path)
        # Set after: Authlib's ``headers or {}`` would walk the whole WSGI environ.
        self.headers = request.headers
        self.payload = MetadataPayload(request)
        self.path_client_id = client_id[:64] if client_id is not None else None

    @property
    def bearer(self) -> str | None:
        """RFC 6750 §2.1: the token in ``Authorization: Bearer``; None if there is none."""
        auth = self.headers.get("Authorization", "")
        if auth[:7].lower() != "bearer " or len(auth) > MAX_BEARER:
            return None
        return auth[7:].strip() or None


# -- errors ---------------------------------------------------------------------------------------
class BearerRefused(InvalidTokenError):  # type: ignore[misc]
    """401 invalid_token with an RFC 6750 §3 challenge. A request that sent no token gets
    the challenge without an error code (RFC 6750 §3.1)."""

    def __init__(self, description: str, *, token_sent: bool) -> None:
        super().__init__(description=description, realm=REALM)
        self.token_sent = token_sent

    def get_headers(self) -> list[tuple[str, str]]:
        challenge = f'Bearer realm="{REALM}"'
        if self.token_sent:
            challenge += f', error="{self.error}"'
        return [*default_json_headers, ("WWW-Authenticate", challenge)]


def _error_text(text: str) -> str:
    """RFC 6749 §5.2: error_description holds %x20-21 / %x23-5B / %x5D-7E only; the hub's
    messages may quote what the client sent."""
    return "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in text)[:300]


def metadata_error(e: ClientMetadataError) -> OAuth2Error:
    """The RFC 7591 §3.2.2 error for a refusal of hub/domain/client_metadata.py."""
    cls = InvalidRedirectURIError if e.error == "invalid_redirect_uri" else InvalidClientMetadataError
    return cls(_error_text(e.description))


# -- metadata -----------------------------------------------------------------------------------
class HubMetadataClaims(ClientMetadataClaims):  # type: ignore[misc]
    """The client metadata a registration or an update may store (Authlib's claims hook).

    The hub's rules come first: they are stricter than Authlib's and name the field at
    fault with the right RFC 7591 §3.2.2 error; the stored metadata are what they
    normalise (defaults filled in, unknown members dropped, RFC 7591 §2). Authlib's own
    checks against the discovery document follow; the sector document, the one network
    fetch, comes last.
    """

    REGISTERED_CLAIMS = sorted(KNOWN)
    outbound: Outbound | None = None
    insecure_transport = False

    @classmethod
    def bound_to(cls, hub: Hub) -> type[HubMetadataClaims]:
        # Read at each request: the outbound client may be replaced at run time (tests).
        return type("HubMetadataClaims", (cls,), {"outbound": hub.outbound,
                                                  "insecure_transport": hub.settings.insecure_transport})

    def validate(self, now: Any = None, leeway: int = 0) -> None:
        try:
            md = strict_metadata(dict(self), outbound=None, insecure_transport=self.insecure_transport)
        except ClientMetadataError as e:
            raise metadata_error(e) from None
        self.clear()
        self.update(md)
        super().validate(now, leeway)  # joserfc's claim errors become invalid_client_metadata
        if self.outbound is not None:
            try:
                check_sector_identifier(md, self.outbound)
            except ClientMetadataError as e:
                raise metadata_error(e) from None


class _HubEndpoint:
    server: RegistrationServer

    def __init__(self, server: RegistrationServer) -> None:
        super().__init__(server, claims_classes=[HubMetadataClaims.bound_to(server.hub)])  # type: ignore[call-arg]

    @property
    def hub(self) -> Hub:
        return self.server.hub

    def get_server_metadata(self) -> dict[str, Any]:
        # The values Authlib's claims checks compare with: scopes, grant and response types
        # and client authentication methods as discovery advertises them.
        return provider_metadata(self.hub.settings.issuer)


# -- RFC 7591: POST /register -------------------------------------------------------------------
@dataclass(frozen=True)
class InitialAccess:
    """An initial access token that had a use left when the request arrived."""

    token_hash: str
    operator_id: str | None


@dataclass(frozen=True)
class NewRegistration:
    client_id: str
    client_secret: str | None
    registration_access_token: str


class ClientRegistration(_HubEndpoint, ClientRegistrationEndpoint):  # type: ignore[misc]
    def authenticate_token(self, request: RegistrationRequest) -> InitialAccess:
        # RFC 7591 §3: Authlib calls this before it reads the body, so an unauthenticated
        # caller cannot make the hub parse its JSON or fetch its sector_identifier_uri.
        token = request.bearer
        if token is None:
            raise BearerRefused("An initial access token is required.", token_sent=False)
        with self.hub.db.session() as s:
            row = s.scalar(select(InitialAccessToken)
                           .where(InitialAccessToken.token_hash == sha256_hex(token),
                                  InitialAccessToken.uses_left > 0,
                                  InitialAccessToken.expires_at > utcnow()))
            if row is None:
                raise BearerRefused("The initial access token is not valid.", token_sent=True)
            return InitialAccess(row.token_hash, row.operator_id)

    def generate_client_id(self, request: RegistrationRequest) -> str:
        return new_client_id()

    def generate_client_secret(self, request: RegistrationRequest) -> None:
        """None: the client registry makes the secret as it stores the client (none for a
        public client) and keeps only its keyed hash; generate_client_registration_info
        puts it in the answer, once."""
        return None

    def save_client(self, client_info: dict[str, Any], client_metadata: dict[str, Any],
                    request: RegistrationRequest) -> NewRegistration:
        hub = self.hub
        access: InitialAccess = request.credential
        with hub.db.session() as s:
            # Spend one use atomically, now that the metadata is good: a refused request
            # spends nothing, and two requests cannot share the token's last use.
            spent = s.execute(update(InitialAccessToken)
                              .where(InitialAccessToken.token_hash == access.token_hash,
                                     InitialAccessToken.uses_left > 0,
                                     InitialAccessToken.expires_at > utcnow())
                              .values(uses_left=InitialAccessToken.uses_left - 1))
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                raise BearerRefused("The initial access token is not valid.", token_sent=True)
        creds = hub.clients.create(client_metadata, status="pending", client_id=client_info["client_id"])
        rat = new_token(32)
        with hub.db.session() as s:
            s.add(RegistrationAccessToken(client_id=creds["client_id"], token_hash=sha256_hex(rat),
                                          operator_id=access.operator_id))
        hub.audit_event("client:registration:create", actor=access.operator_id or "dcr",
                        client_id=creds["client_id"], status="pending")
        return NewRegistration(creds["client_id"], creds.get("client_secret"), rat)

    def generate_client_registration_info(self, client: NewRegistration, request: RegistrationRequest
                                          ) -> dict[str, Any]:
        return {
            "client_secret": client.client_secret,
            # RFC 7591 §3.2.1: required with a secret, and only then.
            "client_secret_expires_at": 0 if client.client_secret else None,
            "registration_client_uri": f"{self.hub.settings.issuer}/register/{client.client_id}",
            "registration_access_token": client.registration_access_token,
            "status": "pending",  # an admin approves the client before doctors can use it
        }


# -- RFC 7592: /register/<client_id> ------------------------------------------------------------
@dataclass(frozen=True)
class RegistrationAccess:
    """A registration access token the request proved, and the one client it manages."""

    client_id: str
    token: str

    def check_client(self, client: Registration) -> bool:
        return client.client_id == self.client_id


@dataclass(frozen=True)
class Registration:
    """A registered client as RFC 7592 reads it back."""

    client: Client

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def status(self) -> str:
        return self.client.status

    @property
    def client_info(self) -> dict[str, Any]:
        # No client_secret: the hub keeps only its keyed hash (rotate it to get a new one).
        return {"client_id": self.client.client_id}

    @property
    def client_metadata(self) -> dict[str, Any]:
        return self.client.metadata

    def get_client_id(self) -> str:
        return self.client.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.client.check_client_secret(client_secret))


class ClientConfiguration(_HubEndpoint, ClientConfigurationEndpoint):  # type: ignore[misc]
    def authenticate_token(self, request: RegistrationRequest) -> RegistrationAccess:
        token = request.bearer
        if token is None:
            raise BearerRefused("A registration access token is required.", token_sent=False)
        client_id = request.path_client_id or ""
        with self.hub.db.session() as s:
            row = s.get(RegistrationAccessToken, client_id)
            if row is None or not hmac.compare_digest(row.token_hash, sha256_hex(token)):
                # RFC 7592 §2: an unknown client and a wrong token look the same (401).
                raise BearerRefused("The registration access token is not valid.", token_sent=True)
        return RegistrationAccess(client_id, token)

    def authenticate_client(self, request: RegistrationRequest) -> Registration | None:
        # Read from the database, not the registry's cache: an admin's approval or
        # suspension in another process shows at once.
        with self.hub.db.session() as s:
            rec = s.get(ClientRecord, request.path_client_id or "")
            if rec is None:
                return None
            return Registration(Client(rec.client_id, rec.status, dict(rec.client_metadata),
                                       rec.secret_hash, self.hub.clients.secrets))

    def revoke_access_token(self, request: RegistrationRequest, token: RegistrationAccess) -> None:
        # (Authlib passes the request first.) Deleting a client deletes its token with it
        # (ON DELETE CASCADE); this covers a client deleted between the two reads.
        with self.hub.db.session() as s:
            row = s.get(RegistrationAccessToken, token.client_id)
            if row is not None:
                s.delete(row)

    def check_permission(self, client: Registration, request: RegistrationRequest) -> bool:
        # The token was issued for this client alone (checked by Authlib before this), and
        # lets its holder read, replace and delete the registration whatever its status: a
        # suspended client may still correct its metadata (it stays suspended).
        return True

    def generate_client_registration_info(self, client: Registration, request: RegistrationRequest
                                          ) -> dict[str, Any]:
        access: RegistrationAccess = request.credential
        return {
            "registration_client_uri": f"{self.hub.settings.issuer}/register/{client.client_id}",
            # RFC 7592 §3: the answer carries the registration access token; the hub keeps
            # only its hash and does not rotate it, so it is the one this request proved.
            "registration_access_token": access.token,
            "status": client.status,
        }

    def update_client(self, client: Registration, client_metadata: dict[str, Any],
                      request: RegistrationRequest) -> Registration:
        hub = self.hub
        old = client.client_metadata
        new_subject_type = client_metadata.get("subject_type")
        if new_subject_type != old.get("subject_type", "pairwise"):
            current = policy_store(hub).current(client.client_id)
            if current is not None and current.policy.subject_type.value != new_subject_type:
                raise InvalidClientMetadataError(
                    "subject_type differs from the client's policy; upload a new policy first")
        status, changed, consents, grants = apply_update(hub, client.client_id, old, client_metadata)
        hub.audit_event("client:registration:update", actor="dcr", client_id=client.client_id,
                        status=status, previous=client.status if status != client.status else None,
                        reviewed_changes=changed or None, consents_ended=consents or None,
                        grants_ended=grants or None)
        c = client.client
        return Registration(Client(c.client_id, status, client_metadata, c.secret_hash, c.secrets))

    def delete_client(self, client: Registration, request: RegistrationRequest) -> None:
        hub = self.hub
        with hub.db.session() as s:
            row = s.get(ClientRecord, client.client_id)
            if row is not None:
                s.delete(row)  # grants, consents, policies and its tokens go with it (ON DELETE CASCADE)
        hub.clients.forget(client.client_id)
        hub.audit_event("client:registration:delete", actor="dcr", client_id=client.client_id)


class ClientSecretRotation(ClientConfiguration):
    """``POST /register/<client_id>/secret``: a new client secret, shown once; the old one
    stops working at once. An extension of RFC 7592, authenticated as its endpoint is."""

    ENDPOINT_NAME = "client_secret_rotation"

    def __call__(self, request: RegistrationRequest) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.authenticate_token(request)
        request.credential = token
        client = self.authenticate_client(request)
        if client is None or not token.check_client(client):
            raise BearerRefused("The registration access token is not valid.", token_sent=True)
        if client.client.is_public:
            raise InvalidRequestError("A public client has no secret.")
        secret = self.hub.clients.rotate_secret(client.client_id)
        self.hub.audit_event("client:secret:rotate", actor="dcr", client_id=client.client_id)
        return 200, {"client_id": client.client_id, "client_secret": secret,
                     "client_secret_expires_at": 0}, default_json_headers


def apply_update(hub: Hub, client_id: str, old: dict[str, Any], md: dict[str, Any]
                 ) -> tuple[str, list[str], int, int]:
    """Store ``md``; returns (status now, reviewed fields changed, consents and grants ended).

    The admin approved the client as it was described. A change to reviewed metadata puts
    an active client back to ``pending`` (no code is issued until an admin approves again),
    and ends every doctor's consent and grant to it: they agreed to release their data to
    the network as it was named and where its codes went, so each doctor sees the consent
    page, with the new name, before anything flows again (docs/decisions.md).
    """
    changed = sorted(f for f in REVIEWED if old.get(f) != md.get(f))
    now = utcnow()
    grant_ids: list[str] = []
    consents = 0
    with hub.db.session() as s:
        values: dict[str, Any] = {"client_metadata": md, "updated_at": now}
        if changed:
            # One statement, so an approval racing this update cannot keep the old status.
            values["status"] = case((ClientRecord.status == "active", "pending"), else_=ClientRecord.status)
        s.execute(update(ClientRecord).where(ClientRecord.client_id == client_id).values(**values))
        if changed:
            consents = s.execute(update(Consent).where(Consent.client_id == client_id,
                                                       Consent.revoked_at.is_(None))
                                 .values(revoked_at=now)).rowcount  # type: ignore[attr-defined]
            grant_ids = list(s.scalars(select(Grant.id).where(Grant.client_id == client_id,
                                                              Grant.revoked_at.is_(None))))
        status = s.scalar(select(ClientRecord.status).where(ClientRecord.client_id == client_id))
    hub.clients.forget(client_id)
    for grant_id in grant_ids:
        # No back-channel logout here: the logout URI may be the unreviewed new one.
        hub.tokens.revoke_grant(grant_id, reason="client_changed")
    return str(status), changed, consents, len(grant_ids)


# -- Flask adapter (until the protocol app serves these paths) -------------------------------
bp = Blueprint("relying_registration", __name__)


def _flask_answer(client_id: str | None = None, action: str | None = None) -> Response:
    return registration_endpoint(current_app.extensions["curbside"],
                                 flask_request._get_current_object(),  # type: ignore[attr-defined]
                                 client_id, action)


bp.add_url_rule("/register", "register", _flask_answer, methods=["POST"])
bp.add_url_rule("/register/<client_id>", "client", _flask_answer, methods=["GET", "PUT", "DELETE"])
bp.add_url_rule("/register/<client_id>/secret", "secret", _flask_answer, methods=["POST"],
                defaults={"action": "secret"})
