"""UK: the GMC List of Registered Medical Practitioners (LRMP), mirror only.

The GMC licenses the LRMP as CSV data files: the whole register, and a daily delta holding
the rows that changed or are new since the day before. Both have ONE layout, the 45
columns of the GMC's "LRMP data file" specification (:data:`LRMP_COLUMNS`); a delta is
keyed by ``GMC Ref No``. Records are never deleted from the register: a doctor who leaves
it changes status ("Not Registered - ...", "Suspended"), so a delta is applied as upserts
and an entry missing from a delta is simply unchanged. A file that also carries a
``Change Type`` column (A/U/D, as some subscribers' feeds add) has it honoured: D withdraws
the entry. Column names are compared without case and spacing (the specification writes
"FtP Conditions Exist" and "Specialty1", files have been seen with "FTP Conditions Exist"
and "Specialty 1"); a file without the columns the verdict needs is refused at line 1.

What the hub concludes from a row (docs/verification.md has the table):

- ``Registration Status`` "Registered with Licence" or "Provisionally registered with
  Licence": licensed. With ``FTP Conditions Exist`` = Y or ``FTP Undertakings Exist`` = Y
  the licence is **restricted** (never an unrestricted physician claim); ``FTP Warnings
  Exist`` alone is no restriction (a warning does not limit practice).
- "Registered without a Licence" and "Provisionally registered without a Licence": on the
  register but **not licensed to practise**: inactive, no physician claim.
- "Suspended" and every "Not Registered - ..." status: inactive.
- Any other status text: inactive (fail closed), and the import report lists the line, so
  a status the GMC introduces is seen rather than guessed at.
- A flag other than Y, N or empty, a bad reference number or date: the file is refused
  with the line number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import BinaryIO

from hub.persistence.db import Database
from hub.verification.base import EntryStatus, RegisterEntry
from hub.verification.checking import MirrorVerifier
from hub.verification.importing import (
    ImportReport,
    Op,
    ProgressFn,
    Upsert,
    Withdraw,
    run_import,
)
from hub.verification.readers import Header, LineCounter, Row, csv_records
from hub.verification.vocabulary import PROFESSION_PHYSICIAN, PROFESSIONAL_EID, RegisterInfo

INFO = RegisterInfo("uk-gmc", "GB", "GBR", "List of Registered Medical Practitioners",
                    "General Medical Council", PROFESSIONAL_EID)
UK_GMC = INFO.id

# The published layout, in order (GMC, "LRMP data file" specification).
LRMP_COLUMNS: tuple[str, ...] = (
    "GMC Ref No",
    "Surname",
    "Given Name",
    "Gender",
    "Qualification",
    "Year Of Qualification",
    "Place of Qualification",
    "PR Date",
    "FR Date",
    "Specialist Register Date",
    "GP Register Date",
    "Registration Status",
    "ARF Due Date",
    *(f"Specialty {n}" for n in range(1, 8)),
    *(f"Sub-Specialty {n}" for n in range(1, 8)),
    "FTP Conditions Exist",
    "FTP Undertakings Exist",
    "Other Names",
    "FTP Warnings Exist",
    "Place of Qualification Country",
    "Revalidation Status",
    "Designated Body",
    "Responsible Officer",
    "Doctor in Training",
    "Training Deanery/LETB",
    "Training Programme Speciality",
    "GMC Approved Trainer",
    "Trainer Deanery/LETB 1",
    "Trainer Programmes Speciality 1",
    "Trainer Deanery/LETB 2",
    "Trainer Programmes Speciality 2",
    "Trainer Deanery/LETB 3",
    "Trainer Programmes Speciality 3",
)
CONDITIONS = "FTP Conditions Exist"
UNDERTAKINGS = "FTP Undertakings Exist"
WARNINGS = "FTP Warnings Exist"
# Without these the verdict cannot be reached: a file lacking one is refused at line 1.
REQUIRED = (
    "GMC Ref No",
    "Surname",
    "Given Name",
    "Other Names",
    "Registration Status",
    CONDITIONS,
    UNDERTAKINGS,
)
CHANGE_TYPE = "Change Type"
ENCODING = "utf-8"
_NUMBER = re.compile(r"^\d{7}$")
_CHANGES = {"a": "A", "add": "A", "u": "U", "update": "U", "d": "D", "delete": "D", "remove": "D"}
_FLAGS = {"y": True, "yes": True, "n": False, "no": False, "": False}

# Registration Status, folded (lower case, single spaces, "license" spelt "licence").
LICENSED = frozenset({"registered with licence", "provisionally registered with licence"})
UNLICENSED = frozenset(
    {"registered without a licence", "provisionally registered without a licence"}
)
NOT_LICENSED_DETAIL = "not licensed to practise"


def normalize_number(number: str) -> str | None:
    digits = re.sub(r"[\s-]", "", number)
    return digits if _NUMBER.match(digits) else None


def _fold(text: str) -> str:
    return " ".join(text.lower().split()).replace("license", "licence")


@dataclass(frozen=True, slots=True)
class Standing:
    status: EntryStatus
    detail: str  # the register's words, plus what made the hub conclude otherwise
    known: bool = True  # False: a status text this module does not know (failed closed)


@lru_cache(maxsize=1024)  # a register has a handful of statuses, repeated a million times
def standing_of(status_text: str, *, conditions: bool, undertakings: bool) -> Standing:
    """The licence standing a row states (see the module docstring)."""
    folded = _fold(status_text)
    if folded in LICENSED:
        measures = [m for m, on in (("conditions", conditions), ("undertakings", undertakings)) if on]
        if measures:
            return Standing(
                EntryStatus.RESTRICTED,
                f"{status_text}; fitness to practise {' and '.join(measures)}",
            )
        return Standing(EntryStatus.ACTIVE, status_text)
    if folded in UNLICENSED:
        return Standing(EntryStatus.INACTIVE, f"{status_text} ({NOT_LICENSED_DETAIL})")
    if folded.startswith("not registered") or folded.startswith("suspended"):
        return Standing(EntryStatus.INACTIVE, status_text)
    return Standing(EntryStatus.INACTIVE, status_text or "no registration status", known=False)


@dataclass(frozen=True, slots=True)
class _Columns:
    """Positions resolved once per file: a million rows must not look names up."""

    number: int
    surname: int
    given: int
    other: int
    status: int
    conditions: int
    undertakings: int
    warnings: int | None
    fr_date: int | None
    pr_date: int | None
    specialist_date: int | None
    gp_date: int | None
    specialties: list[int]
    change_type: int | None

    @classmethod
    def of(cls, header: Header) -> _Columns:
        def at(name: str) -> int:
            i = header.position(name)
            assert i is not None  # REQUIRED columns were checked by Header
            return i

        specialties = [
            i
            for i, name in enumerate(header.names)
            if header.key(name).startswith("specialty") and "date" not in header.key(name)
        ]
        return cls(
            number=at("GMC Ref No"),
            surname=at("Surname"),
            given=at("Given Name"),
            other=at("Other Names"),
            status=at("Registration Status"),
            conditions=at(CONDITIONS),
            undertakings=at(UNDERTAKINGS),
            warnings=header.position(WARNINGS),
            fr_date=header.position("FR Date"),
            pr_date=header.position("PR Date"),
            specialist_date=header.position("Specialist Register Date"),
            gp_date=header.position("GP Register Date"),
            specialties=specialties,
            change_type=header.position(CHANGE_TYPE),
        )


@lru_cache(maxsize=1 << 16)
def _date_value(value: str) -> date | None | bool:
    """The LRMP date (DMMYYYY/DDMMYYYY or DD/MM/YYYY); False when it is no date."""
    if not value:
        return None
    text = value
    if value.isdigit() and len(value) in (7, 8):
        value = value.zfill(8)
        text = f"{value[:2]}/{value[2:4]}/{value[4:]}"
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return False


def _date(row: Row, i: int | None) -> date | None:
    if i is None:
        return None
    value = row.record.fields[i].strip()
    parsed = _date_value(value)
    if parsed is False:
        raise row.error(f"bad date {value!r} in {row.header.names[i]}")
    return parsed  # type: ignore[return-value]


def _flag(row: Row, i: int | None) -> bool:
    if i is None:
        return False
    value = row.record.fields[i].strip()
    flag = _FLAGS.get(value.lower())
    if flag is None:
        raise row.error(f"{row.header.names[i]} must be Y or N, found {value!r}")
    return flag


def entry_of(row: Row, columns: _Columns) -> tuple[RegisterEntry, str | None]:
    """The mirrored entry, and a warning when the status text was not understood."""
    fields = row.record.fields
    raw_number = fields[columns.number]
    number = normalize_number(raw_number)
    if number is None:
        raise row.error(f"bad GMC reference number {raw_number.strip()!r}")
    surname = fields[columns.surname].strip()
    if not surname:
        raise row.error("empty Surname")
    specialties = [fields[i].strip() for i in columns.specialties if fields[i].strip()]
    if _date(row, columns.gp_date):
        specialties.append("General practice (GP Register)")
    specialist_since = _date(row, columns.specialist_date)
    status_text = fields[columns.status].strip()
    conditions, undertakings = _flag(row, columns.conditions), _flag(row, columns.undertakings)
    standing = standing_of(status_text, conditions=conditions, undertakings=undertakings)
    extra: dict[str, object] = {}
    if specialist_since:
        extra["specialist_register_since"] = specialist_since.isoformat()
    if _flag(row, columns.warnings):
        extra["ftp_warning"] = True  # shown to reviewers; no restriction of practice
    given = " ".join(p for p in (fields[columns.given].strip(), fields[columns.other].strip()) if p)
    full_registration = _date(row, columns.fr_date)
    provisional_registration = _date(row, columns.pr_date)
    entry = RegisterEntry(
        register=UK_GMC,
        number=number,
        family_name=surname,
        given_names=given,
        profession=PROFESSION_PHYSICIAN,
        profession_code="medical_practitioner",
        status=standing.status,
        specialties=tuple(dict.fromkeys(specialties)),
        registered_since=full_registration or provisional_registration,
        status_detail=standing.detail,
        extra=extra,
    )
    warning = None if standing.known else f"unknown Registration Status {status_text!r}: treated as inactive"
    return entry, warning


def _parse(f: BinaryIO, counter: LineCounter, path: str) -> Iterator[tuple[int, Op]]:
    records = csv_records(f, encoding=ENCODING, path=path, counter=counter)
    first = next(records, None)
    if first is None:
        return
    header = Header(first.fields, REQUIRED, path=path, fold=True)
    columns = _Columns.of(header)
    for record in records:
        row = header.row(record)
        if columns.change_type is not None:
            change_text = record.fields[columns.change_type].strip()
            change = _CHANGES.get(change_text.lower())
            if change is None:
                raise row.error(f"unknown {CHANGE_TYPE} {change_text!r} (expected A, U or D)")
            if change == "D":
                number = normalize_number(record.fields[columns.number])
                if number is None:
                    raise row.error(f"bad GMC reference number {record.fields[columns.number]!r}")
                yield record.end, Withdraw(number, "removed from the medical register")
                continue
        entry, warning = entry_of(row, columns)
        yield record.end, Upsert(entry, warning)


def import_full(
    db: Database,
    path: str,
    *,
    progress: ProgressFn | None = None,
    batch_size: int = 5000,
    force: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Import (or resume importing) the full LRMP data file."""
    return run_import(
        db,
        register=UK_GMC,
        kind="full",
        path=path,
        parser=_parse,
        progress=progress,
        batch_size=batch_size,
        force=force,
        dry_run=dry_run,
    )


def apply_delta(
    db: Database,
    path: str,
    *,
    progress: ProgressFn | None = None,
    batch_size: int = 5000,
    dry_run: bool = False,
) -> ImportReport:
    """Apply a daily LRMP delta file (the full file's layout; rows that changed or are
    new); the report lists entries that became inactive or restricted."""
    return run_import(
        db,
        register=UK_GMC,
        kind="delta",
        path=path,
        parser=_parse,
        progress=progress,
        batch_size=batch_size,
        dry_run=dry_run,
    )


class GmcVerifier(MirrorVerifier):
    info = INFO
    number_label = "GMC reference number"

    def normalize(self, number: str) -> str | None:
        return normalize_number(number)
