"""Consent receipts: what a doctor agreed a partner network may receive.

A receipt is remembered per (doctor, network) until the doctor revokes it; the authorization
endpoint asks again when a request wants more claims or scopes than the latest live receipt
covers (OIDC Core §3.1.2.4). A receipt is written only together with its audit record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select

from hub.persistence.db import Database, utcnow
from hub.persistence.models.grants import Consent

_C = Consent.__table__
_INSERT_CONSENT = insert(_C)
_LATEST_CONSENT = (
    select(_C.c.claims, _C.c.scopes)
    .where(_C.c.doctor_id == bindparam("d"), _C.c.client_id == bindparam("c"), _C.c.revoked_at.is_(None))
    .order_by(_C.c.granted_at.desc()).limit(1)
)


@dataclass(frozen=True)
class ConsentReceipt:
    """The claims and scopes of a doctor's latest live consent to one network."""

    claims: frozenset[str]
    scopes: frozenset[str]

    def covers_claims(self, wanted: set[str]) -> bool:
        return wanted <= self.claims

    def covers_scopes(self, scopes: set[str]) -> bool:
        # "openid" names the protocol, not something released.
        return scopes <= self.scopes | {"openid"}


def latest_consent(db: Database, doctor_id: str, client_id: str) -> ConsentReceipt | None:
    row = db.hot.first(_LATEST_CONSENT, {"d": doctor_id, "c": client_id})
    if row is None:
        return None
    return ConsentReceipt(frozenset(row["claims"]), frozenset(row["scopes"]))


def record_consent(audit_event: Callable[..., Any], *, doctor_id: str, client_id: str,
                   scopes: Sequence[str], claims: Sequence[str], policy_version: str | None) -> None:
    """Store a receipt with its audit record (``doctor:consent:grant``), or neither."""
    receipt = {"doctor_id": doctor_id, "client_id": client_id, "scopes": sorted(scopes),
               "claims": sorted(claims), "policy_version": policy_version,
               "granted_at": utcnow(), "revoked_at": None}
    audit_event("doctor:consent:grant", doctor_id=doctor_id, client_id=client_id,
                audited_write=(_INSERT_CONSENT, receipt), released=sorted(claims),
                scopes=sorted(scopes), policy_version=policy_version)
