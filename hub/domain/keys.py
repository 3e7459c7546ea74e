"""Signing keys: generation, encryption at rest, rotation, and the published JWKS.

Rotation follows the rule relying parties depend on: a key is published (state ``next``)
one rotation before it signs anything, and a retired key stays published until every token
it signed has expired, so a client with a cached JWKS never meets an unknown ``kid``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError

from hub.domain.crypto import DecryptionError, HubSecrets, new_token
from hub.persistence.db import Database, utcnow
from hub.persistence.models.keys import SigningKey

log = logging.getLogger(__name__)
# "Ed25519" is RFC 9864's fully-specified name; "EdDSA" stays for existing clients.
SUPPORTED_ALGS = ("RS256", "ES256", "EdDSA", "Ed25519")
DEFAULT_ALG = "RS256"
RELOAD_EVERY = 30.0  # seconds: how stale a process's keys may be
_RETRY_RELOAD = 5.0  # seconds between reload attempts while the database is unreachable

AnyKey = RSAKey | ECKey | OKPKey


def _generate(alg: str) -> AnyKey:
    if alg == "RS256":
        return RSAKey.generate_key(2048, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    if alg in ("EdDSA", "Ed25519"):
        return OKPKey.generate_key("Ed25519", private=True)
    raise ValueError(f"unsupported signing algorithm {alg}")


def _import(alg: str, data: dict[str, Any]) -> AnyKey:
    cls = {"RS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey, "Ed25519": OKPKey}[alg]
    return cls.import_key(data)


class RotationTooSoon(Exception):
    """A rotation now would sign with a key relying parties may not have fetched yet."""

    def __init__(self, allowed_at: datetime) -> None:
        super().__init__(f"not before {allowed_at:%Y-%m-%d %H:%M:%S} UTC")
        self.allowed_at = allowed_at


def _rotation_allowed_at(rows: Sequence[SigningKey], published_for: float) -> datetime | None:
    """When every ``next`` key will have been published for ``published_for`` seconds; None
    when no ``next`` key is that young.

    Only a ``next`` key published by a rotation has caches yet to reach. One of an algorithm
    never rotated (no retired key) was published with the active key by ``hub db upgrade``,
    so it was in every JWKS that ever held that key, and promoting it is safe at once.
    """
    rotated = {r.alg for r in rows if r.state == "retired"}
    latest: datetime | None = None
    for nxt in rows:
        if nxt.state == "next" and nxt.alg in rotated:
            at = nxt.created_at + timedelta(seconds=published_for)
            latest = at if latest is None or at > latest else latest
    return latest


@dataclass(frozen=True)
class _Loaded:
    signing: dict[str, tuple[str, AnyKey]]  # alg -> (kid, key)
    jwks: dict[str, Any]
    loaded_at: float
    verifying: KeySet  # the published keys, imported once per load (hints, logout)


class KeyRing:
    def __init__(self, db: Database, secrets: HubSecrets, *, retire_after: int) -> None:
        self.db = db
        self.secrets = secrets
        self.retire_after = retire_after
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()
        # Imported private keys by kid: importing an RSA key validates it (milliseconds),
        # so a periodic reload re-imports only keys it has not seen.
        self._imported: dict[str, AnyKey] = {}

    # -- administration -------------------------------------------------------------
    def _new_key(self, alg: str, state: str) -> SigningKey:
        key = _generate(alg)
        kid = new_token(12)
        public = key.as_dict(private=False)
        public.update({"kid": kid, "alg": alg, "use": "sig"})
        private = key.as_dict(private=True)
        return SigningKey(
            kid=kid,
            alg=alg,
            state=state,
            private_jwk_enc=self.secrets.encrypt(json.dumps(private).encode()),
            public_jwk=json.dumps(public, sort_keys=True),
            activated_at=utcnow() if state == "active" else None,
        )

    def ensure(self) -> None:
        """Give every algorithm an active and a next key (first start)."""
        with self.db.session() as s:
            rows = s.scalars(select(SigningKey).where(SigningKey.state.in_(("active", "next")))).all()
            have = {(r.alg, r.state) for r in rows}
            for alg in SUPPORTED_ALGS:
                for state in ("active", "next"):
                    if (alg, state) not in have:
                        s.add(self._new_key(alg, state))
        self._loaded = None

    def rotate(self, *, published_for: float = 0) -> dict[str, str]:
        """Promote each ``next`` key to signing, retire the old one, publish a new ``next``.

        ``published_for``: refuse (:class:`RotationTooSoon`) while a ``next`` key has been
        in the JWKS for less than this many seconds, so a relying party's cached JWKS holds
        every key that signs (OIDC Core §10.1.1).
        """
        now = utcnow()
        promoted: dict[str, str] = {}
        with self.db.session() as s:
            rows = s.scalars(select(SigningKey).with_for_update()).all()
            allowed_at = _rotation_allowed_at(rows, published_for)
            if allowed_at is not None and allowed_at > now:
                raise RotationTooSoon(allowed_at)
            for alg in SUPPORTED_ALGS:
                for r in rows:
                    if r.alg == alg and r.state == "active":
                        r.state, r.retired_at = "retired", now
                nxt = next((r for r in rows if r.alg == alg and r.state == "next"), None)
                if nxt is None:
                    nxt = self._new_key(alg, "next")
                    s.add(nxt)
                nxt.state, nxt.activated_at = "active", now
                promoted[alg] = nxt.kid
                s.add(self._new_key(alg, "next"))
            # Forget retired keys whose every token has expired.
            cutoff = now - timedelta(seconds=self.retire_after)
            for r in rows:
                if r.state == "retired" and r.retired_at is not None and r.retired_at < cutoff:
                    s.delete(r)
        self._loaded = None
        return promoted

    # -- runtime ----------------------------------------------------------------------
    def _load(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None and time.monotonic() - loaded.loaded_at < RELOAD_EVERY:
            return loaded
        with self._lock:
            loaded = self._loaded  # another thread may have reloaded while this one waited
            if loaded is not None and time.monotonic() - loaded.loaded_at < RELOAD_EVERY:
                return loaded
            cutoff = utcnow() - timedelta(seconds=self.retire_after)
            try:
                with self.db.session() as s:
                    rows = s.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
            except (OperationalError, DBAPIError) as e:
                if loaded is None or not (isinstance(e, OperationalError)
                                          or e.connection_invalidated):
                    raise
                # The database is down: the keys last loaded are still the keys (they change
                # only at a rotation), so /jwks and signing go on with them; try again soon.
                log.warning("signing keys not reloaded, the database is unreachable; "
                            "serving the %d keys loaded before", len(loaded.jwks["keys"]))
                self._loaded = dataclasses.replace(
                    loaded, loaded_at=time.monotonic() - RELOAD_EVERY + _RETRY_RELOAD)
                return self._loaded
            signing: dict[str, tuple[str, AnyKey]] = {}
            published = []
            for r in rows:
                if r.state == "retired" and (r.retired_at is None or r.retired_at < cutoff):
                    continue
                # Publishing needs only the public half; a key whose private half cannot be
                # decrypted (a lost key-encryption key) must not take the JWKS down with it.
                published.append(json.loads(r.public_jwk))
                if r.state == "active":
                    key = self._imported.get(r.kid)
                    if key is None:
                        try:
                            private = json.loads(self.secrets.decrypt(r.private_jwk_enc))
                        except DecryptionError:
                            log.error("signing key %s (%s) cannot be decrypted with the "
                                      "configured key-encryption keys; it will not sign",
                                      r.kid, r.alg)
                            continue
                        key = self._imported[r.kid] = _import(r.alg, private)
                    signing[r.alg] = (r.kid, key)
            live = {kid for kid, _ in signing.values()}
            self._imported = {kid: k for kid, k in self._imported.items() if kid in live}
            loaded = _Loaded(signing, {"keys": published}, time.monotonic(),
                             KeySet.import_key_set({"keys": published}))
            self._loaded = loaded
            return loaded

    def jwks(self) -> dict[str, Any]:
        return self._load().jwks

    def signing_algs(self) -> set[str]:
        """The algorithms with a key that can sign (its private half decrypted)."""
        return set(self._load().signing)

    def verifying_keys(self) -> KeySet:
        return self._load().verifying

    def signed_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a JWT one of the published keys signed, expired or not (an
        id_token_hint, OIDC Core §3.1.2.1); None for anything else."""
        if not token or len(token) > 8192:
            return None
        try:
            verified = jwt.decode(token, self.verifying_keys(), algorithms=list(SUPPORTED_ALGS))
        except (JoseError, ValueError, TypeError):
            return None
        return dict(verified.claims)

    def sign(self, claims: dict[str, Any], *, alg: str = DEFAULT_ALG, typ: str | None = None) -> str:
        found = self._load().signing.get(alg)
        if found is None:
            raise RuntimeError(f"no usable {alg} signing key: run 'hub db upgrade' or check "
                               "CURBSIDE_KEY_ENCRYPTION_KEYS")
        kid, key = found
        header: dict[str, Any] = {"alg": alg, "kid": kid}
        if typ:
            header["typ"] = typ
        return jwt.encode(header, claims, key, algorithms=[alg])
