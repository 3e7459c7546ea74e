"""ID tokens (OIDC Core §2) signed with the client's registered algorithm."""

from __future__ import annotations

import time
from typing import Any

from authlib.oidc.core.util import create_half_hash

from hub.domain import claims as claimset
from hub.domain.accounts import Accounts
from hub.domain.keys import KeyRing
from hub.domain.subjects import subject_for
from hub.persistence.db import Database

# at_hash (OIDC Core §3.1.3.6) hashes with the signing alg's hash: Authlib knows "EdDSA"
# (SHA-512 for Ed25519) but not the fully-specified "Ed25519" (RFC 9864), the same curve.
HALF_HASH_ALG = {"Ed25519": "EdDSA"}


class IdTokens:
    def __init__(self, *, issuer: str, ttl: int, keys: KeyRing, accounts: Accounts, db: Database,
                 pairwise_salt: bytes) -> None:
        self.issuer = issuer
        self.ttl = ttl
        self.keys = keys
        self.accounts = accounts
        self.db = db
        self.pairwise_salt = pairwise_salt

    def for_token_response(self, request: Any, token: dict[str, Any]) -> str:
        client = request.client
        user = request.user
        stored = getattr(request, "stored_code", None)
        if stored is not None:
            nonce, release = stored.nonce, stored.claims
        else:
            nonce, release = None, request.refresh_token.grant.claims
        scope = token.get("scope") or ""
        names = claimset.released(release, scope, "id_token")
        vc_request = claimset.verified_claims_request(release, scope, "id_token")
        return self.build(client, user, names, nonce=nonce, access_token=token.get("access_token"),
                          verified_request=vc_request, doctor=getattr(request, "doctor", None))

    def build(self, client: Any, user: Any, names: set[str], *, nonce: str | None,
              access_token: str | None, verified_request: Any = None,
              doctor: Any = None) -> str:
        """``doctor`` is the account when the caller has just read it (else read here)."""
        now = int(time.time())
        alg = client.id_token_signed_response_alg
        payload: dict[str, Any] = {
            "iss": self.issuer,
            # OIDC Core §8: the same subject the hub gives this client everywhere.
            "sub": subject_for(user.doctor_id, subject_type=client.subject_type,
                               sector=client.sector_identifier, salt=self.pairwise_salt),
            "aud": client.client_id,
            "exp": now + self.ttl,
            "iat": now,
            "auth_time": user.auth_time,
        }
        if nonce:
            payload["nonce"] = nonce
        if user.acr:
            payload["acr"] = user.acr
        if user.amr:
            payload["amr"] = user.amr
        if user.sid:
            payload["sid"] = user.sid
        if access_token:
            payload["at_hash"] = create_half_hash(access_token, HALF_HASH_ALG.get(alg, alg)).decode()
        if names:
            if doctor is None or doctor.id != user.doctor_id:
                doctor = self.accounts.get(user.doctor_id)
            if doctor is not None:
                payload.update(claimset.doctor_claims(doctor, names))
        # Re-read at every issue, never copied from the grant: a withdrawn licence or a
        # stale check must not travel in a later token (OIDC4IDA 1.0: max_age on verification.time).
        payload.update(claimset.verification_claims(self.db, user.doctor_id, names, verified_request,
                                                    "id_token"))
        return self.keys.sign(payload, alg=alg)
