"""The verification review queue: registrations a register check could not settle alone
(a partial name match, a restriction to judge). Approving uses the verification module's
own ``approve_review``; there is no public "reject" there yet, so the console offers none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from hub.admin.tables import has_table
from hub.audit import append
from hub.models.accounts import Doctor

REVIEW_STATUSES = ("needs_review", "restricted")
QUEUE_LIMIT = 200


@dataclass(frozen=True)
class ReviewItem:
    registration: Any  # DoctorRegistration
    doctor_email: str
    doctor_name: str


def queue_available(hub: Any) -> bool:
    return has_table(hub.db, "doctor_registrations")


def review_queue(hub: Any) -> list[ReviewItem]:
    from hub.models.registers import DoctorRegistration

    with hub.db.session() as s:
        rows = s.execute(
            select(DoctorRegistration, Doctor.email, Doctor.given_name, Doctor.family_name)
            .join(Doctor, Doctor.id == DoctorRegistration.doctor_id)
            .where(DoctorRegistration.status.in_(REVIEW_STATUSES))
            .order_by(DoctorRegistration.checked_at, DoctorRegistration.id).limit(QUEUE_LIMIT)).all()
    return [ReviewItem(reg, email, f"{given} {family}".strip()) for reg, email, given, family in rows]


def approve(hub: Any, registration_id: int, *, actor: str, reason: str, address: str) -> str:
    """Approve one waiting registration; returns the doctor's id. LookupError if not waiting."""
    from hub.verification.records import approve_review

    with hub.db.session() as s:
        reg = approve_review(s, registration_id, reviewer=actor)
        append(s, "doctor:verification:verified", actor=actor, address=address,
               detail={"doctor": reg.doctor_id, "registration": reg.id, "register": reg.register,
                       "method": "review", "reason": reason})
        return reg.doctor_id
