"""Per-client policies: versioned storage, the doctor's facts, and the decision glue.

``policies/`` is pure; this module is the hub side: it stores each client's policy
documents as versions, builds ``SubjectFacts`` from the doctor's verification records
and asks ``policies.decide``. A client without a policy behaves as before (None).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

import policies
from hub.audit.trail import AuditTrail
from hub.domain.accounts import Accounts
from hub.domain.clients import ClientRegistry
from hub.persistence.db import Database
from hub.persistence.models.federation import FederationRegistration
from hub.persistence.models.registers import DoctorRegistration, SelfDeclaredProfession
from hub.persistence.models.relying import ClientPolicyVersion
from hub.verification import records, registry
from hub.verification.claims import assurance_level, licence_of
from policies import AccessRequest, ClientPolicy, Decision, PolicyError, Registration, SubjectFacts

# A reviewed restricted licence is a standing (active); policies that need an unrestricted
# one say so (unrestricted_licence) and read Registration.licence.
_ACTIVE_ENTRY = {"active", "restricted"}


@dataclass(frozen=True)
class StoredPolicy:
    client_id: str
    version: int
    digest: str
    policy: ClientPolicy
    created_at: datetime
    created_by: str


class PolicyStore:
    """The policy in force per client, read through a short in-process cache."""

    def __init__(self, db: Database, clients: ClientRegistry, audit: AuditTrail, *,
                 cache_ttl: int) -> None:
        self.db = db
        self.clients = clients
        self.audit = audit
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, StoredPolicy | None]] = {}
        self._lock = threading.Lock()

    def current(self, client_id: str) -> StoredPolicy | None:
        ttl = self.cache_ttl
        now = time.monotonic()
        hit = self._cache.get(client_id)
        if ttl and hit is not None and hit[0] > now:
            return hit[1]
        with self.db.session() as s:
            row = s.scalars(select(ClientPolicyVersion)
                            .where(ClientPolicyVersion.client_id == client_id)
                            .order_by(ClientPolicyVersion.version.desc()).limit(1)).first()
            stored = _stored(row) if row is not None else None
        if ttl:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[client_id] = (now + ttl, stored)
        return stored

    def history(self, client_id: str) -> list[StoredPolicy]:
        with self.db.session() as s:
            rows = s.scalars(select(ClientPolicyVersion)
                             .where(ClientPolicyVersion.client_id == client_id)
                             .order_by(ClientPolicyVersion.version.desc())).all()
            return [_stored(r) for r in rows]

    def set(self, client_id: str, source: str | bytes | dict[str, Any], *, actor: str,
            format: str | None = None) -> StoredPolicy:
        """Validate and store a new version. Raises PolicyError (``path`` names the field)
        or LookupError for an unknown client. Storing the same content again is a no-op."""
        policy = policies.load_policy(source, format=format)  # type: ignore[arg-type]
        client = self.clients.get(client_id)
        if client is None:
            raise LookupError(client_id)
        if policy.subject_type.value != client.subject_type:
            # Changing the subject type changes every doctor's sub at this network; that is
            # a registration change (RFC 7592), never a side effect of a policy upload.
            raise PolicyError.at("/subject_type", f"the client is registered with subject_type "
                                 f"{client.subject_type!r}; change the registration first")
        previous = self.current(client_id)
        if previous is not None:
            policies.require_successor(previous.policy, policy)
            if previous.digest == policy.digest:
                return previous
        with self.db.session() as s:
            row = ClientPolicyVersion(client_id=client_id, version=policy.version,
                                      digest=policy.digest, document=policy.to_document(),
                                      created_by=actor[:100])
            s.add(row)
            s.flush()
            stored = _stored(row)
        self._cache.pop(client_id, None)
        self.audit.event("client:policy:update", actor=actor, client_id=client_id,
                             version=policy.version, digest=policy.digest)
        return stored


def _stored(row: ClientPolicyVersion) -> StoredPolicy:
    return StoredPolicy(row.client_id, row.version, row.digest, policies.load_policy(row.document),
                        row.created_at, row.created_by)


def store(hub: Any) -> PolicyStore:
    """The hub's policy store (built once in hub/composition.py)."""
    return hub.policies  # type: ignore[no-any-return]


# -- facts ---------------------------------------------------------------------------------
def subject_facts(db: Database, accounts: Accounts, doctor_id: str, *, acr: str | None,
                  amr: list[str] | tuple[str, ...]) -> SubjectFacts:
    """What policies may know about the doctor: registrations confirmed by a register
    (active, or withdrawn so the refusal can say so), the honour-system declaration, the
    session's acr/amr and whether the email is verified."""
    regs: list[Registration] = []
    with db.session() as s:
        verification = records.load(s, doctor_id)
        for r in verification.registrations:
            info = registry.info(r.register)
            if info is None or r.profession not in policies.PROFESSIONS:
                continue
            regs.append(Registration(
                register=r.register, country=info.country, profession=r.profession,
                assurance_level=policies.AssuranceLevel(assurance_level(r, verification.evidence)),
                verified_at=r.verified_at,
                status="active" if r.status in _ACTIVE_ENTRY else r.status,
                specialties=tuple(r.specialties), licence=policies.Licence(licence_of(r))))
        # A licence that was verified and then withdrawn: named so the doctor is told to
        # renew the verification rather than to start one.
        for w in s.scalars(select(DoctorRegistration).where(
                DoctorRegistration.doctor_id == doctor_id,
                DoctorRegistration.withdrawn_at.is_not(None),
                DoctorRegistration.verified_at.is_not(None))):
            info = registry.info(w.register)
            if info is None or w.profession not in policies.PROFESSIONS or w.verified_at is None:
                continue
            if any(x.register == w.register and x.status == "active" for x in regs):
                continue
            regs.append(Registration(register=w.register, country=info.country,
                                     profession=w.profession,
                                     assurance_level=policies.AssuranceLevel.REGISTER_MATCH,
                                     verified_at=w.verified_at, status="withdrawn"))
        declared = s.scalar(select(SelfDeclaredProfession.profession)
                            .where(SelfDeclaredProfession.doctor_id == doctor_id))
    doctor = accounts.get(doctor_id)
    return SubjectFacts(
        registrations=tuple(regs),
        self_declared_profession=declared if declared in policies.PROFESSIONS else None,
        acr=acr, amr=tuple(amr or ()),
        email_verified=bool(doctor and doctor.email_verified))


def decide_for(store: PolicyStore, accounts: Accounts, client_id: str, doctor_id: str, *,
               acr: str | None,
               amr: list[str] | tuple[str, ...], claims: set[str] | frozenset[str],
               area: str | None = None, acr_values: tuple[str, ...] = ()
               ) -> tuple[StoredPolicy, Decision] | None:
    """The client's decision for this doctor now, or None when the client has no policy."""
    stored = store.current(client_id)
    if stored is None:
        return None
    facts = subject_facts(store.db, accounts, doctor_id, acr=acr, amr=amr)
    marks = client_trust_marks(store.db, client_id) if stored.policy.required_trust_marks else ()
    request = AccessRequest(now=datetime.now(UTC), claims=frozenset(claims), area=area,
                            acr_values=tuple(acr_values), client_trust_marks=frozenset(marks))
    return stored, policies.decide(stored.policy, facts, request,
                                   wording=registry.policy_wording())


def client_trust_marks(db: Database, client_id: str) -> list[str]:
    """The trust mark types verified in the client's current trust chain (none for a
    client that did not join by trust); refreshed whenever the chain is resolved again."""
    with db.session() as s:
        reg = s.get(FederationRegistration, client_id)
        return list(reg.trust_marks) if reg is not None and reg.failure is None else []
