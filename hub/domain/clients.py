"""Relying parties as Authlib sees them, loaded from the database with a short cache.

The token endpoint looks a client up on every request; a few seconds of in-process cache
saves a database round trip per token without delaying a suspension noticeably.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, scope_to_list
from sqlalchemy import select

from hub.domain.crypto import HubSecrets, new_token
from hub.persistence.db import Database
from hub.persistence.models.clients import CLIENT_ID_LENGTH, ClientRecord

SECRET_PURPOSE = "client-secret"
# The longest client id: a federation member's is its entity id (hub/domain/federation.py).
MAX_CLIENT_ID_LENGTH = CLIENT_ID_LENGTH
SUPPORTED_SCOPES = ("openid", "profile", "email", "offline_access", "https://curbside.health/scopes/physician")
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
AUTH_METHODS = (*SECRET_AUTH_METHODS, "none")


def new_client_id() -> str:
    """A random client identifier that never starts with "-": operators type client ids
    into `hub client ...` commands, where a leading dash reads as an option."""
    while True:
        client_id = new_token(16)
        if not client_id.startswith("-"):
            return client_id


@dataclass(frozen=True)
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    status: str
    metadata: dict[str, Any]
    secret_hash: str | None
    secrets: HubSecrets = field(repr=False, compare=False)
    # When the registration last changed (epoch seconds): a consent page shown before then
    # described another client (RFC 7592 update, re-approval).
    changed_at: float = 0.0

    # -- Authlib ClientMixin ----------------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        allowed = set(scope_to_list(self.metadata.get("scope", " ".join(SUPPORTED_SCOPES))))
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match only (RFC 9700 §4.1.3): no wildcards, no prefix matching.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_hash is None or not client_secret:
            return False
        return self.secrets.check_keyed_hash(SECRET_PURPOSE, client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # Basic and post carry the same secret with the same strength; accepting either lets
        # off-the-shelf libraries work whatever their default (docs/decisions.md).
        registered = self.token_endpoint_auth_method
        if registered in SECRET_AUTH_METHODS:
            return method in SECRET_AUTH_METHODS
        return bool(method == registered)

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.metadata.get("response_types", ["code"])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    # -- our own views of the metadata -----------------------------------------------
    @property
    def client_metadata(self) -> dict[str, Any]:  # the name Authlib's endpoints read
        return self.metadata

    @property
    def redirect_uris(self) -> list[str]:
        return list(self.metadata.get("redirect_uris", []))

    @property
    def post_logout_redirect_uris(self) -> list[str]:
        return list(self.metadata.get("post_logout_redirect_uris", []))

    @property
    def grant_types(self) -> list[str]:
        return list(self.metadata.get("grant_types", ["authorization_code"]))

    @property
    def token_endpoint_auth_method(self) -> str:
        return str(self.metadata.get("token_endpoint_auth_method", "client_secret_basic"))

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def name(self) -> str:
        return str(self.metadata.get("client_name") or self.client_id)

    @property
    def subject_type(self) -> str:
        return str(self.metadata.get("subject_type", "pairwise"))

    @property
    def sector_identifier(self) -> str:
        """OIDC Core §8.1: the host of the sector_identifier_uri, else of the redirect URI."""
        uri = self.metadata.get("sector_identifier_uri") or (self.redirect_uris or [""])[0]
        return urlsplit(str(uri)).hostname or self.client_id

    @property
    def id_token_signed_response_alg(self) -> str:
        return str(self.metadata.get("id_token_signed_response_alg", "RS256"))

    @property
    def active(self) -> bool:
        return self.status == "active"


class ClientRegistry:
    def __init__(self, db: Database, secrets: HubSecrets, *, cache_ttl: int) -> None:
        self.db = db
        self.secrets = secrets
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, Client | None]] = {}
        self._lock = threading.Lock()
        # Passes each client loaded from the database through (None takes its access away):
        # federation clients live no longer than their trust chain (hub/domain/federation.py).
        self.admission: Callable[[Client], Client | None] | None = None

    def get(self, client_id: str | None) -> Client | None:
        if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
            return None
        now = time.monotonic()
        hit = self._cache.get(client_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.db.session() as s:
            rec = s.get(ClientRecord, client_id)
            client = self._from_record(rec) if rec is not None else None
        if client is not None and self.admission is not None and client_id.startswith("http"):
            client = self.admission(client)
        with self._lock:
            if len(self._cache) > 10_000:  # bound memory against client_id probing
                self._cache.clear()
            self._cache[client_id] = (now + self.cache_ttl, client)
        return client

    def _from_record(self, rec: ClientRecord) -> Client:
        changed = rec.updated_at or rec.created_at
        return Client(rec.client_id, rec.status, dict(rec.client_metadata), rec.secret_hash, self.secrets,
                      changed.timestamp() if changed else 0.0)

    def forget(self, client_id: str) -> None:
        self._cache.pop(client_id, None)

    def create(self, metadata: dict[str, Any], *, status: str = "active",
               client_id: str | None = None) -> dict[str, Any]:
        """Store a validated client and return its credentials (the secret is shown once)."""
        client_id = client_id or new_client_id()
        secret = None
        if metadata.get("token_endpoint_auth_method", "client_secret_basic") != "none":
            secret = new_token(32)
        rec = ClientRecord(
            client_id=client_id,
            secret_hash=self.secrets.keyed_hash(SECRET_PURPOSE, secret) if secret else None,
            status=status,
            client_metadata=metadata,
        )
        with self.db.session() as s:
            s.add(rec)
        self.forget(client_id)
        out: dict[str, Any] = {"client_id": client_id, **metadata}
        if secret:
            out["client_secret"] = secret
            out["client_secret_expires_at"] = 0
        return out

    def rotate_secret(self, client_id: str) -> str:
        secret = new_token(32)
        with self.db.session() as s:
            rec = s.get(ClientRecord, client_id)
            if rec is None:
                raise LookupError(client_id)
            rec.secret_hash = self.secrets.keyed_hash(SECRET_PURPOSE, secret)
        self.forget(client_id)
        return secret

    def all(self) -> list[Client]:
        with self.db.session() as s:
            return [self._from_record(r) for r in s.scalars(select(ClientRecord))]
