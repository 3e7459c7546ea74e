"""Searching doctors by name, email, registration number or a linked network's subject.

Every value reaches SQL as a bound parameter; LIKE wildcards in the input are escaped, so
"%" or "_" match themselves and never the whole table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from hub.admin.tables import has_table
from hub.persistence.db import Database
from hub.persistence.models.accounts import Doctor
from hub.persistence.models.registers import DoctorRegistration

MAX_QUERY = 200
MAX_RESULTS = 50
ESCAPE = "\\"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# EXTENSION POINT for linked identities. Account links (a doctor's subject at a partner
# network) do not exist yet. When they land, the links package registers a function here
# that turns the search text into a SELECT of doctors.id values, e.g.
#   register_subject_lookup(lambda q: select(Link.doctor_id).where(Link.subject == q))
# Until then the console says plainly that linked subjects are not searchable.
SubjectLookup = Callable[[str], Select[tuple[str]]]
SUBJECT_LOOKUPS: list[SubjectLookup] = []


def register_subject_lookup(lookup: SubjectLookup) -> None:
    SUBJECT_LOOKUPS.append(lookup)


def linked_subjects_searchable() -> bool:
    return bool(SUBJECT_LOOKUPS)


@dataclass(frozen=True)
class Found:
    id: str
    email: str
    name: str
    disabled: bool


def like_contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with its own wildcards made literal."""
    escaped = text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return f"%{escaped}%"


def search_doctors(db: Database, query: str, *, limit: int = MAX_RESULTS) -> tuple[list[Found], bool]:
    """Doctors matching ``query``; the flag says there were more than ``limit``."""
    # Control characters match nothing worth finding, and PostgreSQL refuses NUL outright.
    q = " ".join(_CONTROL.sub(" ", query).split())[:MAX_QUERY]
    if not q:
        return [], False
    pattern = like_contains(q.lower())
    full_name = func.lower(Doctor.given_name + " " + Doctor.family_name)
    conditions: list[ColumnElement[bool]] = [
        full_name.like(pattern, escape=ESCAPE),
        func.lower(Doctor.email).like(pattern, escape=ESCAPE),
        Doctor.id == q.lower(),
    ]
    if has_table(db, "doctor_registrations"):
        number = q.replace(" ", "")
        conditions.append(Doctor.id.in_(
            select(DoctorRegistration.doctor_id).where(
                func.upper(DoctorRegistration.number).like(like_contains(number.upper()), escape=ESCAPE))))
    for lookup in SUBJECT_LOOKUPS:
        conditions.append(Doctor.id.in_(lookup(q)))
    stmt = (select(Doctor.id, Doctor.email, Doctor.given_name, Doctor.family_name, Doctor.disabled)
            .where(or_(*conditions)).order_by(Doctor.family_name, Doctor.given_name, Doctor.id)
            .limit(limit + 1))
    with Session(db.engine) as s:
        rows = s.execute(stmt).all()
    found = [Found(r.id, r.email, f"{r.given_name} {r.family_name}".strip(), r.disabled) for r in rows]
    return found[:limit], len(found) > limit
