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

from sqlalchemy import bindparam, insert, select, text, update

from hub.domain.crypto import sha256_hex
from hub.persistence.db import Database, utcnow
from hub.persistence.models.grants import Grant, RefreshToken
from hub.persistence.store import Store

_G, _RT = Grant.__table__, RefreshToken.__table__
_INSERT_GRANT = insert(_G)
_INSERT_RT = insert(_RT)
_FIND_RT = (
    select(_G, _RT.c.expires_at, _RT.c.rotated_at, _RT.c.revoked_at.label("rt_revoked"),
           _RT.c.successor)
    .join_from(_RT, _G, _G.c.id == _RT.c.grant_id)
    .where(_RT.c.token_hash == bindparam("h"))
)
_SUCCESSOR = select(_RT.c.successor).where(_RT.c.token_hash == bindparam("h"))
# Rotation stores one successor per refresh token (RFC 9700 §4.14.2): the predecessor is
# marked only while it is unrotated, and the successor is inserted only by the request that
# marked it. A concurrent request with the same token inserts nothing and hands out the
# winner's successor, kept sealed on the predecessor for the grace window. Successors of
# the grant whose window has passed are erased in the same step.
_MARK_ROTATED = (
    update(_RT).where(_RT.c.token_hash == bindparam("old"), _RT.c.rotated_at.is_(None),
                      _RT.c.revoked_at.is_(None))
    .values(rotated_at=bindparam("now"), successor=bindparam("sealed"))
)
_ERASE_STALE_SUCCESSORS = (
    update(_RT).where(_RT.c.grant_id == bindparam("g"), _RT.c.successor.is_not(None),
                      _RT.c.rotated_at < bindparam("cutoff"))
    .values(successor=None)
)
# PostgreSQL rotates in one round trip: data-modifying CTEs mark the predecessor and erase
# stale successors, and the INSERT takes its row from the marking, so it inserts nothing
# when another request marked the predecessor first. (SQLite has no writable CTEs; it runs
# the statements in one local transaction, where round trips cost nothing.)
_ROTATE_PG = text(
    "WITH old AS (UPDATE refresh_tokens SET rotated_at = :now, successor = :sealed "
    "WHERE token_hash = :old AND rotated_at IS NULL AND revoked_at IS NULL RETURNING 1), "
    "stale AS (UPDATE refresh_tokens SET successor = NULL WHERE grant_id = :grant_id "
    "AND successor IS NOT NULL AND rotated_at < :cutoff) "
    "INSERT INTO refresh_tokens (token_hash, grant_id, expires_at, created_at) "
    "SELECT :token_hash, :grant_id, :expires_at, :now FROM old"
)
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
class GrantView:
    """The grant behind a refresh token, read with one prebuilt query."""

    id: str
    client_id: str
    doctor_id: str
    scope: str
    claims: dict[str, Any] | None
    sid: str | None
    auth_time: int
    acr: str | None
    amr: list[str]


@dataclass(frozen=True)
class RefreshTokenView:
    token_hash: str
    grant: GrantView
    rotated_at_age: float | None
    # The successor it was rotated into, sealed (HubSecrets.encrypt), while the grace window
    # lasts: a replay inside the window gets this one instead of a second chain.
    successor: str | None = None

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
    @staticmethod
    def access_token_for(random_part: str, grant_id: str | None) -> str:
        """An access token of a grant starts with the grant's id (random, opaque, meaningful
        only to the hub), so a lookup reads the token and the grant's revocation marker in
        one round trip. The token is still found only by the SHA-256 of all of it."""
        return f"{grant_id}.{random_part}" if grant_id else random_part

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
        named_grant, _, rest = token.partition(".")
        if rest and named_grant:  # see access_token_for: one read for the token and its grant
            raw, revoked = self.store.get_many([(AT_KIND, sha256_hex(token)),
                                                (REVOKED_GRANT_KIND, named_grant)])
        else:
            raw, revoked = self.store.get(AT_KIND, sha256_hex(token)), None
        if raw is None:
            return None
        r = json.loads(raw)
        if r["g"] and r["g"] != named_grant:
            revoked = self.store.get(REVOKED_GRANT_KIND, r["g"])
        if r["g"] and revoked is not None:
            return None
        at = AccessToken(r["c"], r["s"], r["g"], r["d"], r["i"], r["e"], r.get("cl"))
        return None if at.is_expired() else at

    def revoke_access_token(self, token: str) -> None:
        self.store.delete(AT_KIND, sha256_hex(token))

    # -- grants and refresh tokens -----------------------------------------------------
    def create_grant(self, values: dict[str, Any]) -> None:
        self.db.hot.execute(*self.grant_insert(values))

    @staticmethod
    def grant_insert(values: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The statement that stores a grant, for callers that send it with a read."""
        return _INSERT_GRANT, {"created_at": utcnow(), "revoked_at": None,
                               "revoked_reason": None, **values}

    def save_refresh_token(self, token: str, grant_id: str) -> None:
        """Store the first refresh token of a new grant."""
        now = utcnow()
        self.db.hot.execute(_INSERT_RT, {
            "token_hash": sha256_hex(token), "grant_id": grant_id,
            "expires_at": now + timedelta(seconds=self.refresh_ttl), "created_at": now,
            "rotated_at": None, "revoked_at": None, "successor": None})

    def rotate_refresh_token(self, predecessor: RefreshTokenView, token: str, sealed: str
                             ) -> str | None:
        """Make ``token`` the one successor of ``predecessor`` (``sealed`` is it encrypted).

        Returns None when it became the successor, or the sealed successor that another
        request stored first (two requests raced with the same refresh token); that may be
        None too when the predecessor was revoked meanwhile.
        """
        now = utcnow()
        grant_id = predecessor.grant.id
        values = {"token_hash": sha256_hex(token), "grant_id": grant_id,
                  "expires_at": now + timedelta(seconds=self.refresh_ttl), "now": now,
                  "old": predecessor.token_hash, "sealed": sealed,
                  "cutoff": now - timedelta(seconds=self.reuse_grace)}
        if not self.db.is_sqlite:
            won = self.db.hot.execute(_ROTATE_PG, values) == 1
        else:
            with self.db.hot.transaction() as tx:
                won = tx.execute(_MARK_ROTATED, {k: values[k] for k in ("old", "now", "sealed")}) == 1
                tx.execute(_ERASE_STALE_SUCCESSORS, {"g": grant_id, "cutoff": values["cutoff"]})
                if won:
                    tx.execute(_INSERT_RT, {k: values[k] for k in ("token_hash", "grant_id", "expires_at")}
                               | {"created_at": now, "rotated_at": None, "revoked_at": None,
                                  "successor": None})
        if won:
            return None
        # A new statement, so it sees what the winner committed.
        row = self.db.hot.first(_SUCCESSOR, {"h": predecessor.token_hash})
        return row["successor"] if row is not None else None

    def erase_stale_successors(self) -> int:
        """Erase every sealed successor whose grace window is over (the grants' next
        rotations do it too; this catches chains that stopped)."""
        cutoff = utcnow() - timedelta(seconds=self.reuse_grace)
        with self.db.session() as s:
            done = s.execute(update(RefreshToken).where(RefreshToken.successor.is_not(None),
                                                        RefreshToken.rotated_at < cutoff)
                             .values(successor=None))
            return int(done.rowcount)  # type: ignore[attr-defined]

    def find_refresh_token(self, token: str | None) -> tuple[RefreshTokenView | None, GrantView | None]:
        """Return (usable token, None) or (None, grant to revoke because of reuse)."""
        if not token or len(token) > 512:
            return None, None
        now = utcnow()
        token_hash = sha256_hex(token)
        row = self.db.hot.first(_FIND_RT, {"h": token_hash})
        if row is None:
            return None, None
        if row["rt_revoked"] is not None or row["revoked_at"] is not None or row["expires_at"] <= now:
            return None, None
        grant = GrantView(row["id"], row["client_id"], row["doctor_id"], row["scope"], row["claims"],
                          row["sid"], row["auth_time"], row["acr"], list(row["amr"] or []))
        if row["rotated_at"] is not None:
            age = (now - row["rotated_at"]).total_seconds()
            if age > self.reuse_grace:
                # RFC 9700 §4.14.2: a rotated token presented again means it leaked.
                return None, grant
            return RefreshTokenView(token_hash, grant, age, row["successor"]), None
        return RefreshTokenView(token_hash, grant, None), None

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
                      .values(revoked_at=now, successor=None))

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


def erase_stale_successors(hub: Any) -> dict[str, int]:
    """Worker job (hub/worker.py PERIODIC): successors are kept for the grace window only."""
    return {"erased": hub.tokens.erase_stale_successors()}
