"""Freshness: re-checking registrations whose last check is too old, and the durable list
of withdrawn registrations (the integrator ends the doctor's sessions and revokes tokens
for each, then marks it handled)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.persistence.db import Database, utcnow
from hub.persistence.models.registers import DoctorRegistration
from hub.verification.base import RegisterResult, RegistrationClaim, Verifier
from hub.verification.records import record_check

# Registrations worth re-checking: verified ones (freshness) and those still undecided.
RECHECK_STATUSES = ("match", "needs_review", "restricted", "unavailable")


def stale_registrations(
    session: Session,
    *,
    older_than: timedelta,
    now: datetime | None = None,
    statuses: Sequence[str] = RECHECK_STATUSES,
    limit: int | None = None,
) -> list[DoctorRegistration]:
    """Registrations whose last check is older than ``older_than``, oldest first."""
    cutoff = (now or utcnow()) - older_than
    stmt = (
        select(DoctorRegistration)
        .where(DoctorRegistration.checked_at < cutoff, DoctorRegistration.status.in_(statuses))
        .order_by(DoctorRegistration.checked_at, DoctorRegistration.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).scalars())


def claim_of(reg: DoctorRegistration) -> RegistrationClaim:
    return RegistrationClaim(
        country=reg.country,
        number=reg.number,
        profession=reg.profession,
        given_name=reg.given_name,
        family_name=reg.family_name,
        register=reg.register,
    )


@dataclass(frozen=True, slots=True)
class Recheck:
    doctor_id: str
    registration_id: int
    before: str
    result: RegisterResult


def recheck_stale(
    db: Database,
    verifiers: Mapping[str, Verifier],
    *,
    older_than: timedelta,
    limit: int = 100,
    now: datetime | None = None,
    statuses: Sequence[str] = RECHECK_STATUSES,
) -> list[Recheck]:
    """Re-check up to ``limit`` stale registrations (run it from a periodic job)."""
    with db.session() as s:
        todo = [
            (r.id, r.doctor_id, r.status, claim_of(r))
            for r in stale_registrations(s, older_than=older_than, now=now, limit=limit, statuses=statuses)
        ]
    done = []
    for reg_id, doctor_id, before, claim in todo:
        result = verifiers[claim.register or ""].check(claim)
        with db.session() as s:
            record_check(s, doctor_id, claim, result)
        done.append(Recheck(doctor_id, reg_id, before, result))
    return done


def pending_withdrawals(session: Session, *, limit: int | None = None) -> list[DoctorRegistration]:
    """Registrations that lost their verified status and whose doctor's sessions and
    tokens have not been dealt with yet (set by imports and re-checks)."""
    stmt = (
        select(DoctorRegistration)
        .where(
            DoctorRegistration.withdrawn_at.is_not(None),
            DoctorRegistration.withdrawal_handled_at.is_(None),
        )
        .order_by(DoctorRegistration.withdrawn_at, DoctorRegistration.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).scalars())


def mark_withdrawal_handled(session: Session, registration_id: int, *, now: datetime | None = None) -> None:
    reg = session.get(DoctorRegistration, registration_id)
    if reg is not None:
        reg.withdrawal_handled_at = now or utcnow()
