"""Authlib grants, kept thin: each override only connects Authlib to our storage.

Authlib makes the protocol checks (client authentication, redirect URI, code binding,
PKCE verification); the extra checks here are the ones our profile adds: PKCE S256 is
mandatory for every client (RFC 9700 §2.1.1), a replayed code revokes what it issued
(RFC 6749 §4.1.2), a reused refresh token revokes its grant (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode as _OpenIDCode

from hub.domain.crypto import DecryptionError, new_token, sha256_hex
from hub.ops.metrics import count_signin

if TYPE_CHECKING:
    from hub.domain.tokens import RefreshTokenView
    from hub.services import Hub

USER_SCOPES = {"openid", "profile", "email", "offline_access",
               "https://curbside.health/scopes/physician"}
CODE_KIND = "code"
USED_CODE_KIND = "code-used"
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]
# Federation members (hub/protocol/federation.py) sign in with private_key_jwt; a client
# may only use the method it registered (Client.check_endpoint_auth_method).
SIGN_IN_AUTH_METHODS = [*AUTH_METHODS, "private_key_jwt"]


@dataclass(frozen=True)
class EndUser:
    """The signed-in doctor as a grant sees them."""

    doctor_id: str
    auth_time: int
    acr: str
    amr: list[str]
    sid: str | None

    def get_user_id(self) -> str:
        return self.doctor_id


@dataclass(frozen=True)
class StoredCode:
    """An authorization code's payload (Authlib AuthorizationCodeMixin duck type)."""

    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    claims: dict[str, Any] | None
    user: EndUser
    grant_id: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.user.auth_time

    def get_acr(self) -> str:
        return self.user.acr

    def get_amr(self) -> list[str]:
        return self.user.amr


def _hub(grant: Any) -> Hub:
    return grant.server.hub  # type: ignore[no-any-return]


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SIGN_IN_AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        hub = _hub(self)
        data = request.payload.data
        user: EndUser = request.user
        payload = {
            "client_id": request.client.get_client_id(),
            "redirect_uri": request.payload.redirect_uri,
            "scope": request.scope,
            "nonce": data.get("nonce"),
            "code_challenge": data.get("code_challenge"),
            "code_challenge_method": data.get("code_challenge_method") or "S256",
            "claims": getattr(request, "claims_request", None),
            "user": user.__dict__,
            "grant_id": new_token(16),
        }
        entry = (CODE_KIND, code_key(payload["client_id"], code), json.dumps(payload).encode(),
                 hub.settings.authorization_code_ttl)
        writes = getattr(request, "store_writes", None)
        if writes is not None:
            writes.append(entry)  # written by the caller with its own (AuthorizeFlow.run)
        else:
            hub.store.write_many(puts=[entry])
        count_signin(payload["client_id"])

    def generate_authorization_code(self) -> str:
        # 256 bits from the OS in one call; Authlib's default draws 48 characters one by one
        # through random.SystemRandom, ~40 µs per code.
        return new_token(32)

    def query_authorization_code(self, code: str, client: Any) -> StoredCode | None:
        hub = _hub(self)
        if not code or len(code) > 256:
            return None
        key = code_key(client.get_client_id(), code)
        # consume: of two concurrent redemptions only one can win (RFC 6749 §4.1.2). The
        # winner leaves the code's record behind as a replay marker, in the same step.
        raw = hub.store.consume_and_mark(
            CODE_KIND, key, mark=USED_CODE_KIND,
            mark_ttl=hub.settings.authorization_code_ttl + hub.settings.access_token_ttl)
        if raw is None:
            used = hub.store.get(USED_CODE_KIND, key)
            if used is not None:
                # A replayed code: revoke every token issued from it.
                hub.tokens.revoke_grant(_replayed_grant(used), reason="code_replay")
                hub.audit_event("oidc:grant:revoke", client_id=client.get_client_id(),
                                reason="code_replay")
            return None
        p = json.loads(raw)
        stored = StoredCode(**{**p, "user": EndUser(**p["user"])})
        if stored.client_id != client.get_client_id():
            return None
        self.request.stored_code = stored
        return stored

    def generate_token(self, user: Any = None, scope: Any = None, grant_type: Any = None,
                       expires_in: Any = None, include_refresh_token: bool = True) -> Any:
        # OIDC Core §11: a refresh token (offline access) only when offline_access was granted.
        offline = "offline_access" in (scope or "").split()
        return super().generate_token(user=user, scope=scope, grant_type=grant_type,
                                      expires_in=expires_in,
                                      include_refresh_token=include_refresh_token and offline)

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        """Already deleted by query_authorization_code's atomic consume."""

    def authenticate_user(self, authorization_code: StoredCode) -> EndUser:
        return authorization_code.user

    def validate_token_request(self) -> None:
        super().validate_token_request()
        # RFC 9700 §2.1.1: PKCE is required of every client; codes are only ever issued
        # with a challenge, so a token request without a verifier is refused.
        if not self.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")


def code_key(client_id: str, code: str) -> str:
    """The Store key of a code and of its replay marker: the code under its client.

    RFC 6749 §4.1.3 / §10.5: a code is bound to the client it was issued to. Another
    client's token request finds nothing under its own key, so it is refused with
    invalid_grant and neither consumes the code (which would let any client that learns a
    code destroy it) nor counts as a replay (which would revoke the rightful client's
    tokens). Authlib's own example looks a code up by code and client together.
    """
    return sha256_hex(f"{client_id}\n{code}")


def _replayed_grant(marker: bytes) -> str:
    """The grant id a replay marker names: the code's record, or (markers written before
    the record was kept) the bare id."""
    try:
        return str(json.loads(marker)["grant_id"])
    except (ValueError, TypeError, KeyError):
        return marker.decode("utf-8", "replace")


class RequireS256(CodeChallenge):
    """PKCE with S256 only, mandatory for every client, confidential or public."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send 'code_challenge' with method S256",
                                      redirect_uri=redirect_uri)
        if data.get("code_challenge_method", "plain") != "S256":
            raise InvalidRequestError("Only the S256 'code_challenge_method' is supported",
                                      redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class OpenIDCode(_OpenIDCode):
    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # Nonce replay is detected by the relying party (OIDC Core §3.1.3.7 step 11).
        return False

    def process_token(self, grant: Any, response: Any) -> Any:
        _, token, _ = response
        if "openid" in (token.get("scope") or "").split():
            token["id_token"] = _hub(grant).id_tokens.for_token_response(grant.request, token)
        return token


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SIGN_IN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Any:
        hub = _hub(self)
        found, reused_grant = hub.tokens.find_refresh_token(refresh_token)
        if reused_grant is not None:
            hub.tokens.revoke_grant(reused_grant.id, reason="refresh_reuse")
            # The doctor's audit history shows which of their grants died and why (the
            # account id, never a network's sub: the audit log is the hub's own record).
            hub.audit_event("oidc:token:reuse_detected", actor=reused_grant.client_id,
                            doctor_id=reused_grant.doctor_id, doctor=reused_grant.doctor_id,
                            client_id=reused_grant.client_id, reason="refresh_reuse")
            raise InvalidGrantError("The refresh token was already used; the grant is revoked.")
        if found is not None and (refusal := hub.access.refuse_refresh(found)) is not None:
            raise InvalidGrantError(refusal)
        return found

    def authenticate_user(self, refresh_token: Any) -> EndUser:
        g = refresh_token.grant
        return EndUser(g.doctor_id, g.auth_time, g.acr or "", list(g.amr or []), g.sid)

    def revoke_old_credential(self, refresh_token: Any) -> None:
        """Done in save_token, in the same step that stores the successor."""

    def save_token(self, token: dict[str, Any]) -> Any:
        # The predecessor gets one successor, whichever request asks first; a replay
        # inside the grace window (two tabs, a retried request) is answered with that same
        # successor, so one chain lives and a later reuse is still detected (RFC 9700
        # §4.14.2, OAuth 2.1 §4.3.1). The server stores the access token only.
        candidate = token.pop("refresh_token", None)
        successor = None if candidate is None else self._successor(self.request.refresh_token,
                                                                     candidate)
        result = super().save_token(token)
        if successor is not None:
            token["refresh_token"] = successor
        return result

    def _successor(self, predecessor: RefreshTokenView, candidate: str) -> str:
        hub = _hub(self)
        sealed = predecessor.successor
        if predecessor.rotated_at_age is None:
            sealed = hub.tokens.rotate_refresh_token(
                predecessor, candidate, hub.secrets.encrypt(candidate.encode()))
            if sealed is None:
                return candidate
        if sealed is None:
            # Rotated by a hub without sealed successors, or revoked meanwhile: no chain to
            # join, and a second one must not start.
            raise InvalidGrantError("The refresh token was already used.")
        try:
            return hub.secrets.decrypt(sealed).decode()
        except DecryptionError:
            raise InvalidGrantError("The refresh token was already used.") from None

    def create_token_response(self) -> Any:
        status, token, headers = super().create_token_response()
        hub = _hub(self)
        if hub.settings.id_token_on_refresh and "openid" in (token.get("scope") or "").split():
            token["id_token"] = hub.id_tokens.for_token_response(self.request, token)
        return status, token, headers


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    # Only confidential clients hold credentials worth a token (RFC 6749 §4.4).
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        # No doctor is behind a partner back-end's token: scopes that stand for a doctor's
        # data (openid, profile, email, offline_access) are refused (RFC 6749 §5.2).
        requested = set((self.request.payload.scope or "").split())
        if requested & USER_SCOPES:
            raise InvalidScopeError("The client_credentials grant carries no user scopes.")


def now() -> int:
    return int(time.time())
