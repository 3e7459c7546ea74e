"""Dynamic Client Registration (RFC 7591) and its management protocol (RFC 7592).

``POST /register`` needs an initial access token an admin issued (RFC 7591 §3,
``hub client initial-token``), checked before the body is read; a registered client starts
``pending`` until an admin approves it. ``/register/<client_id>`` reads (GET), replaces (PUT)
and deletes (DELETE) the registration with its registration access token (RFC 7592 §2); a
replacement that changes what an admin reviewed puts an active client back to ``pending``
and ends the doctors' remembered consents to it (docs/decisions.md). ``POST
/register/<client_id>/secret`` rotates the client secret. Tokens are kept as SHA-256 only.
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import case, select, update

from hub.domain.client_metadata import (
    KNOWN,
    LOOPBACK_HOSTS,
    ClientMetadataError,
    parse_metadata_json,
    validate_metadata,
)
from hub.domain.crypto import new_token, sha256_hex
from hub.outbound import OutboundError
from hub.persistence.db import utcnow
from hub.persistence.models.clients import ClientRecord
from hub.persistence.models.grants import Consent, Grant
from hub.persistence.models.relying import InitialAccessToken, RegistrationAccessToken
from hub.relying.invitations import admit_registration, issue_initial_token  # noqa: F401 (CLI, tests)

if TYPE_CHECKING:
    from hub.services import Hub

bp = Blueprint("relying_registration", __name__)
MAX_SECTOR_DOCUMENT = 64 * 1024
SECTOR_DEADLINE = 5.0  # seconds for the whole fetch, however slowly the server answers
# Metadata an admin reviews before approving: what doctors are shown (name, logo, pages),
# where codes, logouts and pairwise subjects go, and what the client may ask for. Every
# stored field except the contact addresses, so a field added to KNOWN is reviewed too.
UNREVIEWED = frozenset({"contacts"})
REVIEWED = frozenset(KNOWN - UNREVIEWED)


def _hub() -> Hub:
    return current_app.extensions["curbside"]  # type: ignore[no-any-return]


# -- metadata ---------------------------------------------------------------------------------
def _https(md: dict[str, Any], name: str) -> None:
    uri = md.get(name)
    if uri is not None and urlsplit(str(uri)).scheme != "https":
        raise ClientMetadataError("invalid_client_metadata", f"{name} must use https")


def _sector_uris(uri: str) -> list[str]:
    """OIDC Registration §5: the sector document is a JSON array of redirect URIs.

    Fetched through the hub's guarded outbound session (hub/outbound.py): a client cannot
    make the hub call an internal address, hold it past the deadline or flood it.
    """
    http = _hub().outbound.session(deadline=SECTOR_DEADLINE, max_bytes=MAX_SECTOR_DOCUMENT,
                                   max_redirects=0)
    try:
        resp = http.get(uri, allow_redirects=False, headers={"Accept": "application/json"})
        body = resp.content
    except OutboundError as e:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"sector_identifier_uri was not fetched: {e.public}") from None
    except requests.RequestException:
        raise ClientMetadataError("invalid_client_metadata",
                                  "sector_identifier_uri could not be fetched") from None
    finally:
        http.close()
    if resp.status_code != 200 or len(body) > MAX_SECTOR_DOCUMENT:
        raise ClientMetadataError("invalid_client_metadata",
                                  "sector_identifier_uri did not answer with a JSON array")
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ClientMetadataError("invalid_client_metadata",
                                  "sector_identifier_uri must hold a JSON array of URIs")
    return value


def strict_metadata(raw: Any, *, fetch_sector: bool = True, insecure_transport: bool = False
                    ) -> dict[str, Any]:
    """validate_metadata plus what a self-registered client must also get right.

    Pages shown to doctors (logo, policy, terms) and the sector document are https only;
    contacts are email addresses; the back-channel settings have the right types; a
    sector_identifier_uri lists every redirect URI (OIDC Registration §5), fetched last,
    once everything else is valid. ``insecure_transport`` (the local demo setting) allows
    an http back-channel logout URI on loopback.
    """
    if not isinstance(raw, dict):
        raise ClientMetadataError("invalid_client_metadata", "client metadata must be a JSON object")
    md = validate_metadata(raw)
    for name in ("logo_uri", "policy_uri", "tos_uri", "client_uri", "sector_identifier_uri"):
        _https(md, name)
    for contact in md.get("contacts", []):
        local, _, domain = contact.partition("@")
        if not local or "." not in domain or any(c.isspace() for c in contact):
            raise ClientMetadataError("invalid_client_metadata", "contacts must be email addresses")
    if "backchannel_logout_session_required" in md and \
            not isinstance(md["backchannel_logout_session_required"], bool):
        raise ClientMetadataError("invalid_client_metadata",
                                  "backchannel_logout_session_required must be true or false")
    bcl = md.get("backchannel_logout_uri")
    if bcl is not None and urlsplit(str(bcl)).scheme != "https" and not (
            insecure_transport and urlsplit(str(bcl)).hostname in LOOPBACK_HOSTS):
        # Back-Channel Logout 1.0 §2.2: the logout token carries the doctor's sid and sub.
        raise ClientMetadataError("invalid_client_metadata", "backchannel_logout_uri must use https")
    sector = md.get("sector_identifier_uri")
    if sector is not None and fetch_sector:
        listed = set(_sector_uris(str(sector)))
        missing = [u for u in md["redirect_uris"] if u not in listed]
        if missing:
            raise ClientMetadataError("invalid_redirect_uri",
                                      f"redirect URI not listed at sector_identifier_uri: {missing[0]}")
    return md


# -- HTTP ---------------------------------------------------------------------------------------
def _json(body: dict[str, Any], status: int = 200) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


def _error(error: str, description: str, status: int = 400, *, challenge_error: bool = True) -> Response:
    resp = _json({"error": error, "error_description": description}, status)
    if status == 401:
        # RFC 6750 §3.1: a request without credentials gets the challenge without an error code.
        resp.headers["WWW-Authenticate"] = (f'Bearer realm="curbside", error="{error}"'
                                            if challenge_error else 'Bearer realm="curbside"')
    return resp


def _bearer() -> str | None:
    auth = request.headers.get("Authorization", "")
    if not auth[:7].lower() == "bearer " or len(auth) > 600:
        return None
    return auth[7:].strip() or None


def _body() -> dict[str, Any]:
    if not request.is_json:
        raise ClientMetadataError("invalid_client_metadata", "send the metadata as application/json")
    return parse_metadata_json(request.get_data(cache=False))


def _strict(raw: Any) -> dict[str, Any]:
    return strict_metadata(raw, insecure_transport=_hub().settings.insecure_transport)


def _client_response(hub: Hub, client_id: str, md: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"client_id": client_id, **md,
            "registration_client_uri": f"{hub.settings.issuer}/register/{client_id}", **extra}


@bp.post("/register")
def register() -> Response:
    hub = _hub()
    token = _bearer()
    if token is None:
        return _error("invalid_token", "An initial access token is required.", 401, challenge_error=False)
    now = utcnow()
    # RFC 7591 §3: authenticate before anything else, so an unauthenticated caller cannot
    # make the hub parse its body or fetch its sector_identifier_uri. A use is spent below,
    # once the metadata is good.
    with hub.db.session() as s:
        usable = s.scalar(select(InitialAccessToken.token_hash)
                          .where(InitialAccessToken.token_hash == sha256_hex(token),
                                 InitialAccessToken.uses_left > 0, InitialAccessToken.expires_at > now))
    if usable is None:
        return _error("invalid_token", "The initial access token is not valid.", 401)
    try:
        md = _strict(_body())
    except ClientMetadataError as e:
        return _error(e.error, e.description)
    with hub.db.session() as s:
        # Spend one use atomically, and only once the metadata is good.
        res = s.execute(update(InitialAccessToken)
                        .where(InitialAccessToken.token_hash == sha256_hex(token),
                               InitialAccessToken.uses_left > 0, InitialAccessToken.expires_at > now)
                        .values(uses_left=InitialAccessToken.uses_left - 1))
        if res.rowcount != 1:  # type: ignore[attr-defined]
            return _error("invalid_token", "The initial access token is not valid.", 401)
        operator_id = s.get(InitialAccessToken, sha256_hex(token)).operator_id  # type: ignore[union-attr]
    creds = hub.clients.create(md, status="pending")
    client_id = creds["client_id"]
    rat = new_token(32)
    with hub.db.session() as s:
        s.add(RegistrationAccessToken(client_id=client_id, token_hash=sha256_hex(rat),
                                      operator_id=operator_id))
    hub.audit_event("client:registration:create", actor=operator_id or "dcr", client_id=client_id,
                    status="pending")
    status = admit_registration(hub, sha256_hex(token), client_id)  # an invitation starts it active
    extra = {k: v for k, v in creds.items() if k in ("client_secret", "client_secret_expires_at")}
    body = _client_response(hub, client_id, md, client_id_issued_at=int(now.timestamp()),
                            registration_access_token=rat, **extra)
    body["status"] = status  # pending: an admin approves the client before doctors can use it
    return _json(body, 201)


def _authorised(hub: Hub, client_id: str) -> ClientRecord | Response:
    """RFC 7592 §2: the registration access token of exactly this client."""
    token = _bearer()
    with hub.db.session() as s:
        rat = s.get(RegistrationAccessToken, client_id[:64])
        rec = s.get(ClientRecord, client_id[:64])
        if token is None or rat is None or rec is None or \
                not hmac.compare_digest(rat.token_hash, sha256_hex(token)):
            # §2: an unknown client and a wrong token look the same (401).
            return _error("invalid_token", "The registration access token is not valid.", 401)
        s.expunge(rec)
        return rec


@bp.get("/register/<client_id>")
def read(client_id: str) -> Response:
    hub = _hub()
    rec = _authorised(hub, client_id)
    if isinstance(rec, Response):
        return rec
    # RFC 7592 §3: the client information response carries registration_access_token. The
    # hub keeps only its hash and does not rotate it, so it is the token this request proved.
    return _json({**_client_response(hub, rec.client_id, dict(rec.client_metadata),
                                     registration_access_token=_bearer()), "status": rec.status})


@bp.put("/register/<client_id>")
def replace(client_id: str) -> Response:
    hub = _hub()
    rec = _authorised(hub, client_id)
    if isinstance(rec, Response):
        return rec
    try:
        raw = _body()
        if raw.get("client_id") != rec.client_id:
            # RFC 7592 §2.2: the request carries the client_id it updates.
            raise ClientMetadataError("invalid_client_metadata", "client_id must match the registration")
        md = _strict({k: v for k, v in raw.items()
                      if k not in ("client_id", "client_secret", "registration_access_token",
                                   "registration_client_uri", "client_id_issued_at",
                                   "client_secret_expires_at")})
    except ClientMetadataError as e:
        return _error(e.error, e.description)
    if md.get("subject_type") != rec.client_metadata.get("subject_type", "pairwise"):
        from hub.relying.policy import store

        current = store(hub).current(rec.client_id)
        if current is not None and current.policy.subject_type.value != md.get("subject_type"):
            return _error("invalid_client_metadata",
                          "subject_type differs from the client's policy; upload a new policy first")
    status, changed, consents, grants = apply_update(hub, rec.client_id, dict(rec.client_metadata), md)
    hub.audit_event("client:registration:update", actor="dcr", client_id=rec.client_id,
                    status=status, previous=rec.status if status != rec.status else None,
                    reviewed_changes=changed or None, consents_ended=consents or None,
                    grants_ended=grants or None)
    return _json({**_client_response(hub, rec.client_id, md, registration_access_token=_bearer()),
                  "status": status})  # RFC 7592 §3, as in read()


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


@bp.delete("/register/<client_id>")
def delete(client_id: str) -> Response:
    hub = _hub()
    rec = _authorised(hub, client_id)
    if isinstance(rec, Response):
        return rec
    with hub.db.session() as s:
        row = s.get(ClientRecord, rec.client_id)
        if row is not None:
            s.delete(row)  # grants, consents, policies and its tokens go with it (ON DELETE CASCADE)
    hub.clients.forget(rec.client_id)
    hub.audit_event("client:registration:delete", actor="dcr", client_id=rec.client_id)
    return Response(status=204, headers={"Cache-Control": "no-store"})


@bp.post("/register/<client_id>/secret")
def rotate_secret(client_id: str) -> Response:
    hub = _hub()
    rec = _authorised(hub, client_id)
    if isinstance(rec, Response):
        return rec
    if rec.client_metadata.get("token_endpoint_auth_method") == "none":
        return _error("invalid_request", "A public client has no secret.")
    secret = hub.clients.rotate_secret(rec.client_id)
    hub.audit_event("client:secret:rotate", actor="dcr", client_id=rec.client_id)
    return _json({"client_id": rec.client_id, "client_secret": secret, "client_secret_expires_at": 0})
