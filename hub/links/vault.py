"""Connector tokens, encrypted at rest (MultiFernet: keys rotatable) and refreshed under a lock.

The lock is the Store's ``add_once`` (atomic set-if-absent, on SQL and Redis alike), so two
relay jobs, or a job and the web process, never race one refresh: with rotating refresh
tokens the loser's refresh would present a used token and, at many upstreams, revoke the
whole grant (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from connectors.base import Connector, LinkCredentials, Refreshing
from hub.persistence.db import Database, utcnow
from hub.persistence.models.links import LinkToken

LOCK_KIND = "link-refresh"
LOCK_TTL = 60  # longer than any connector's token-endpoint budget
WAIT = 15.0  # how long a job waits for another's refresh before giving up for this round


class RefreshBusy(Exception):
    """Another worker holds the refresh lock and did not finish in time."""


def dump(creds: LinkCredentials) -> bytes:
    return json.dumps({
        "a": creds.access_token, "r": creds.refresh_token, "t": creds.token_type,
        "e": creds.expires_at.isoformat() if creds.expires_at else None,
        "s": list(creds.scope), "p": creds.endpoint}).encode()


def load(raw: bytes) -> LinkCredentials:
    d = json.loads(raw)
    return LinkCredentials(access_token=d["a"], refresh_token=d["r"], token_type=d["t"],
                           expires_at=datetime.fromisoformat(d["e"]) if d["e"] else None,
                           scope=tuple(d["s"]), endpoint=d["p"])


class TokenVault:
    def __init__(self, *, db: Database, store: Any, secrets: Any) -> None:
        self.db, self.store, self.secrets = db, store, secrets

    def save(self, link_id: str, creds: LinkCredentials) -> None:
        with self.db.session() as s:
            row = s.get(LinkToken, link_id) or LinkToken(link_id=link_id)
            row.ciphertext = self.secrets.encrypt(dump(creds))
            row.expires_at, row.updated_at = creds.expires_at, utcnow()
            s.add(row)

    def get(self, link_id: str) -> LinkCredentials | None:
        with self.db.session() as s:
            row = s.get(LinkToken, link_id)
            return load(self.secrets.decrypt(row.ciphertext)) if row else None

    def encrypted(self, link_id: str) -> str | None:
        with self.db.session() as s:
            row = s.get(LinkToken, link_id)
            return row.ciphertext if row else None

    def delete(self, link_id: str) -> None:
        with self.db.session() as s:
            row = s.get(LinkToken, link_id)
            if row is not None:
                s.delete(row)

    def fresh(self, link_id: str, connector: Connector, *, failed_token: str | None = None
              ) -> LinkCredentials | None:
        """Credentials good to use now: refreshed (under the lock) when expired, or when
        ``failed_token`` was just refused with ``invalid_token``. Raises the connector's
        ``UpstreamRejected(invalid_grant)`` when the link must be re-established."""
        creds = self.get(link_id)
        if creds is None or not isinstance(connector, Refreshing) or not creds.refresh_token:
            return creds
        if not self._needs_refresh(creds, failed_token):
            return creds
        store = self.store
        deadline = time.monotonic() + WAIT
        while not store.add_once(LOCK_KIND, link_id, ttl=LOCK_TTL):
            if time.monotonic() > deadline:
                raise RefreshBusy(link_id)
            time.sleep(0.05)
        try:
            creds = self.get(link_id)  # someone may have refreshed while we waited
            if creds is None or not self._needs_refresh(creds, failed_token):
                return creds
            new = connector.refresh(creds)
            self.save(link_id, new)
            return new
        finally:
            store.delete(LOCK_KIND, link_id)

    @staticmethod
    def _needs_refresh(creds: LinkCredentials, failed_token: str | None) -> bool:
        if failed_token is not None and creds.access_token == failed_token:
            return True
        return creds.expired(datetime.now(UTC))
