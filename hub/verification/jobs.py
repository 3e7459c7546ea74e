"""Background work of verification: acting on withdrawn licences, re-checking stale
registrations and deleting decided documents. Each is safe to run again (a crash halfway
leaves the rest of the durable to-do list for the next run)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from hub.persistence.models.grants import Grant
from hub.persistence.models.registers import DoctorRegistration
from hub.verification import documents, events, recheck, records, registry, vouches
from hub.verification.base import ResultStatus

WITHDRAWAL_REASON = "licence_withdrawn"


@dataclass(frozen=True, slots=True)
class HandledWithdrawal:
    doctor_id: str
    registration_ids: list[int]
    grants_revoked: int
    clients: list[str]  # partner networks that held a grant (back-channel logout later)


def process_withdrawals(hub: Any, *, limit: int = 1000) -> list[HandledWithdrawal]:
    """For every registration that lost its verified status and was not dealt with yet:
    end the doctor's SSO sessions, revoke every grant (refresh and access tokens die at
    once), record ``doctor:verification:withdrawn`` naming the partner networks that held
    grants, re-settle the vouches the doctor gave, and mark the registration handled.

    The withdrawn registration itself is no longer released (only ``match`` is), so the
    next sign-in issues tokens without it. Back-channel logout to the partner networks
    reads the revoked grants (``revoked_reason`` = ``licence_withdrawn``) and these audit
    records; delivering it belongs to the relying-party work.
    """
    with hub.db.session() as s:
        todo: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for reg in recheck.pending_withdrawals(s, limit=limit):
            todo[reg.doctor_id].append((reg.id, reg.register, reg.status))
    handled = []
    for doctor_id, regs in todo.items():
        grant_ids = hub.end_doctor_sessions(doctor_id, reason=WITHDRAWAL_REASON)
        with hub.db.session() as s:
            clients = sorted(set(s.execute(select(Grant.client_id).where(Grant.id.in_(grant_ids)))
                                 .scalars())) if grant_ids else []
        for reg_id, register, status in regs:
            hub.audit_event(events.WITHDRAWN, doctor_id=doctor_id, actor="system", doctor=doctor_id,
                            registration=reg_id, register=register, status=status,
                            grants=len(grant_ids), clients=clients[:50] or None)
        with hub.db.session() as s:
            vouches.settle_vouches_by(s, doctor_id)
            for reg_id, _, _ in regs:
                recheck.mark_withdrawal_handled(s, reg_id)
        handled.append(HandledWithdrawal(doctor_id, [r for r, _, _ in regs], len(grant_ids), clients))
    return handled


@dataclass(frozen=True, slots=True)
class RecheckSummary:
    checked: int
    by_status: dict[str, int]
    withdrawals: list[HandledWithdrawal]


def recheck_stale(hub: Any, *, older_than: timedelta, limit: int = 100) -> RecheckSummary:
    """Re-check registrations whose last check is older than ``older_than`` (run it more
    often than the freshness relying parties ask for), then act on any withdrawal."""
    done = recheck.recheck_stale(hub.db, registry.for_hub(hub), older_than=older_than, limit=limit)
    by_status: dict[str, int] = defaultdict(int)
    for item in done:
        by_status[item.result.status.value] += 1
    return RecheckSummary(len(done), dict(by_status), process_withdrawals(hub))


def purge_documents(hub: Any) -> int:
    """Delete the content of documents past their retention; returns how many."""
    with hub.db.session() as s:
        gone = documents.purge_due(s)
    if gone:
        hub.audit_event(events.DOCUMENT_DELETE, actor="system", count=gone, reason="retention")
    return gone


def recheck_due(hub: Any) -> RecheckSummary:
    """The worker's periodic re-verification: registrations whose last check is older than
    ``CURBSIDE_VERIFICATION_RECHECK_DAYS``, and checks that found the register down
    (``unavailable``, the doctor was told Curbside will ask again) once older than
    ``CURBSIDE_VERIFICATION_UNAVAILABLE_RETRY`` seconds; a bounded batch of each per run,
    then any withdrawal they revealed is acted on at once."""
    summary = recheck_stale(hub, older_than=timedelta(days=hub.settings.verification_recheck_days))
    retried = recheck.recheck_stale(
        hub.db,
        registry.for_hub(hub),
        older_than=timedelta(seconds=hub.settings.verification_unavailable_retry),
        statuses=(ResultStatus.UNAVAILABLE.value,),
    )
    by_status = defaultdict(int, summary.by_status)
    for item in retried:
        by_status[item.result.status.value] += 1
    return RecheckSummary(summary.checked + len(retried), dict(by_status),
                          summary.withdrawals + process_withdrawals(hub))


def recheck_doctor(hub: Any, doctor_id: str) -> RecheckSummary:
    """Re-check every registration of one doctor now (the admin console's "re-run
    verification"), then act on any withdrawal it reveals."""
    with hub.db.session() as s:
        claims = [recheck.claim_of(r) for r in s.scalars(
            select(DoctorRegistration).where(DoctorRegistration.doctor_id == doctor_id))]
    verifiers = registry.for_hub(hub)
    by_status: dict[str, int] = defaultdict(int)
    for claim in claims:
        result = records.verify(hub.db, verifiers, doctor_id, claim)
        by_status[result.status.value] += 1
    return RecheckSummary(len(claims), dict(by_status), process_withdrawals(hub))
