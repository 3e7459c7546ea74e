"""Issuing, finding and revoking tokens.

Access tokens are opaque random strings kept in the Store under their SHA-256 (they live
minutes, and a lookup is one Redis GET). Refresh tokens and grants are durable rows.
Revoking a grant writes a marker to the Store that every access-token lookup checks, so
access tokens already issued from a replayed code or a reused refresh token die at once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from hub.crypto import sha256_hex
from hub.db import Database, utcnow
from hub.models.grants import Grant, RefreshToken
from hub.store import Store

AT_KIND = "at"
REVOKED_GRANT_KIND = "grant-revoked"


@dataclass(frozen=True)
class AccessToken:
    """An access token as the resource side sees it (Authlib TokenMixin duck type)."""

    client_id: str
    scope: str
    grant_id: str | None
    doctor_id: str | None
    issued_at: int
    expires_at: int
    claims: dict[str, Any] | None = None

    def get_scope(self) -> str:
        return self.scope

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_expires_in(self) -> int:
        return self.expires_at - self.issued_at

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return False  # revoked tokens are never returned by find_access_token

    def get_client_id(self) -> str:
        return self.client_id


@dataclass(frozen=True)
class RefreshTokenView:
    token_hash: str
    grant: Grant
    rotated_at_age: float | None

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.grant.client_id)

    def get_scope(self) -> str:
        return self.grant.scope

    def is_expired(self) -> bool:
        return False  # expired rows are filtered out when found

    def is_revoked(self) -> bool:
        return False


class TokenService:
    def __init__(self, db: Database, store: Store, *, access_ttl: int, refresh_ttl: int,
                 reuse_grace: int) -> None:
        self.db = db
        self.store = store
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.reuse_grace = reuse_grace

    # -- access tokens ---------------------------------------------------------------
    def save_access_token(self, token: str, *, client_id: str, scope: str, grant_id: str | None,
                          doctor_id: str | None, claims: dict[str, Any] | None) -> None:
        now = int(time.time())
        record = {"c": client_id, "s": scope, "g": grant_id, "d": doctor_id, "i": now,
                  "e": now + self.access_ttl}
        if claims:
            record["cl"] = claims
        self.store.put(AT_KIND, sha256_hex(token), json.dumps(record).encode(), ttl=self.access_ttl)

    def find_access_token(self, token: str | None) -> AccessToken | None:
        if not token or len(token) > 512:
            return None
        raw = self.store.get(AT_KIND, sha256_hex(token))
        if raw is None:
            return None
        r = json.loads(raw)
        if r["g"] and self.store.get(REVOKED_GRANT_KIND, r["g"]) is not None:
            return None
        at = AccessToken(r["c"], r["s"], r["g"], r["d"], r["i"], r["e"], r.get("cl"))
        return None if at.is_expired() else at

    def revoke_access_token(self, token: str) -> None:
        self.store.delete(AT_KIND, sha256_hex(token))

    # -- grants and refresh tokens -----------------------------------------------------
    def create_grant(self, grant: Grant) -> None:
        with self.db.session() as s:
            s.add(grant)

    def save_refresh_token(self, token: str, grant_id: str) -> None:
        with self.db.session() as s:
            s.add(RefreshToken(token_hash=sha256_hex(token), grant_id=grant_id,
                               expires_at=utcnow() + timedelta(seconds=self.refresh_ttl)))

    def find_refresh_token(self, token: str | None) -> tuple[RefreshTokenView | None, str | None]:
        """Return (usable token, None) or (None, grant id to revoke because of reuse)."""
        if not token or len(token) > 512:
            return None, None
        now = utcnow()
        with self.db.session() as s:
            row = s.execute(
                select(RefreshToken, Grant)
                .join(Grant, Grant.id == RefreshToken.grant_id)
                .where(RefreshToken.token_hash == sha256_hex(token))
            ).first()
            if row is None:
                return None, None
            rt, grant = row
            if rt.revoked_at is not None or grant.revoked_at is not None or rt.expires_at <= now:
                return None, None
            if rt.rotated_at is not None:
                age = (now - rt.rotated_at).total_seconds()
                if age > self.reuse_grace:
                    # RFC 9700 §4.14.2: a rotated token presented again means it leaked.
                    return None, grant.id
                return RefreshTokenView(rt.token_hash, grant, age), None
            return RefreshTokenView(rt.token_hash, grant, None), None

    def mark_rotated(self, token_hash: str) -> None:
        with self.db.session() as s:
            s.execute(
                update(RefreshToken)
                .where(RefreshToken.token_hash == token_hash, RefreshToken.rotated_at.is_(None))
                .values(rotated_at=utcnow())
            )

    def revoke_refresh_token(self, token: str) -> str | None:
        """Revoke a refresh token and, per RFC 7009 §2.1, its whole grant."""
        with self.db.session() as s:
            rt = s.get(RefreshToken, sha256_hex(token))
            if rt is None:
                return None
            grant_id = rt.grant_id
        self.revoke_grant(grant_id, reason="revoked")
        return grant_id

    def revoke_grant(self, grant_id: str, *, reason: str) -> None:
        now = utcnow()
        self.store.put(REVOKED_GRANT_KIND, grant_id, reason.encode(), ttl=self.access_ttl + 60)
        with self.db.session() as s:
            s.execute(update(Grant).where(Grant.id == grant_id, Grant.revoked_at.is_(None))
                      .values(revoked_at=now, revoked_reason=reason))
            s.execute(update(RefreshToken).where(RefreshToken.grant_id == grant_id,
                                                 RefreshToken.revoked_at.is_(None))
                      .values(revoked_at=now))

    def revoke_grants_of(self, doctor_id: str, *, client_id: str | None = None,
                         reason: str) -> list[str]:
        with self.db.session() as s:
            q = select(Grant.id).where(Grant.doctor_id == doctor_id, Grant.revoked_at.is_(None))
            if client_id:
                q = q.where(Grant.client_id == client_id)
            ids = list(s.scalars(q))
        for gid in ids:
            self.revoke_grant(gid, reason=reason)
        return ids
