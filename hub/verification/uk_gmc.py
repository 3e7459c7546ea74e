"""UK: the GMC List of Registered Medical Practitioners (LRMP), mirror only.

The GMC licenses the LRMP as a CSV data file (the whole register) plus a daily delta file.
Columns used (names as in the GMC's LRMP data specification; others are ignored):
``GMC Ref No`` (7 digits), ``Surname``, ``Given Name``, ``Other Names``, ``Gender``,
``Registration Status`` (e.g. "Registered with Licence", "Registered without a Licence",
"Provisionally registered with Licence", "Suspended", "Not Registered - ..."), and
optionally ``PR Date``/``FR Date`` (first provisional/full registration),
``Specialist Register Date``, ``GP Register Date`` (dates written DMMYYYY/DDMMYYYY, e.g.
5071978, or DD/MM/YYYY) and ``Specialty``/``Specialty 1``... columns.

The delta file has the same columns plus ``Change Type`` with A(dd), U(pdate) or D(elete)
(also "Add"/"Update"/"Delete"/"Remove"); a deletion marks the mirrored entry inactive.
Only "with Licence" statuses count as active: a doctor registered without a licence may not
practise. Any status we do not know is treated as inactive (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import BinaryIO

from hub.db import Database
from hub.verification.base import EntryStatus, RegisterEntry
from hub.verification.checking import MirrorVerifier
from hub.verification.importing import (
    ImportReport,
    Op,
    Parser,
    ProgressFn,
    Upsert,
    Withdraw,
    run_import,
)
from hub.verification.readers import Header, LineCounter, Row, csv_records, parse_date
from hub.verification.vocabulary import PROFESSION_PHYSICIAN, UK_GMC

REQUIRED = (
    "GMC Ref No",
    "Surname",
    "Given Name",
    "Other Names",
    "Gender",
    "Registration Status",
)
CHANGE_TYPE = "Change Type"
ENCODING = "utf-8"
_NUMBER = re.compile(r"^\d{7}$")
_CHANGES = {"a": "A", "add": "A", "u": "U", "update": "U", "d": "D", "delete": "D", "remove": "D"}


def normalize_number(number: str) -> str | None:
    digits = re.sub(r"[\s-]", "", number)
    return digits if _NUMBER.match(digits) else None


def status_of(text: str) -> EntryStatus:
    folded = " ".join(text.lower().split())
    if not folded or folded.startswith("not registered") or "suspend" in folded:
        return EntryStatus.INACTIVE
    if "without" in folded or "with licence" not in folded and "with license" not in folded:
        return EntryStatus.INACTIVE
    if "condition" in folded or "undertaking" in folded:
        return EntryStatus.RESTRICTED
    return EntryStatus.ACTIVE


_SPECIALTY_COLUMNS: dict[int, list[int]] = {}


def _specialty_columns(header: Header) -> list[int]:
    key = id(header)
    if key not in _SPECIALTY_COLUMNS:
        _SPECIALTY_COLUMNS.clear()
        _SPECIALTY_COLUMNS[key] = header.columns(
            lambda name: name.startswith("Specialty") and "Date" not in name
        )
    return _SPECIALTY_COLUMNS[key]


def _date(row: Row, column: str) -> date | None:
    value = row.get(column)
    if value.isdigit() and len(value) in (7, 8):
        value = value.zfill(8)
        value = f"{value[:2]}/{value[2:4]}/{value[4:]}"
    return parse_date(value, ("%d/%m/%Y",), line=row.record.start, path=row.header.path)


def entry_of(row: Row) -> RegisterEntry:
    number = normalize_number(row["GMC Ref No"])
    if number is None:
        raise row.error(f"bad GMC reference number {row['GMC Ref No']!r}")
    if not row["Surname"]:
        raise row.error("empty Surname")
    fields = row.record.fields
    specialties = [fields[i].strip() for i in _specialty_columns(row.header) if fields[i].strip()]
    if _date(row, "GP Register Date"):
        specialties.append("General practice (GP Register)")
    specialist_since = _date(row, "Specialist Register Date")
    status_text = row["Registration Status"]
    return RegisterEntry(
        register=UK_GMC,
        number=number,
        family_name=row["Surname"],
        given_names=" ".join(p for p in (row["Given Name"], row["Other Names"]) if p),
        profession=PROFESSION_PHYSICIAN,
        profession_code="medical_practitioner",
        status=status_of(status_text),
        specialties=tuple(dict.fromkeys(specialties)),
        registered_since=_date(row, "FR Date") or _date(row, "PR Date"),
        status_detail=status_text,
        extra={"specialist_register_since": specialist_since.isoformat()} if specialist_since else {},
    )


def _parse(delta: bool) -> Parser:
    required = (*REQUIRED, CHANGE_TYPE) if delta else REQUIRED

    def parse(f: BinaryIO, counter: LineCounter, path: str) -> Iterator[tuple[int, Op]]:
        records = csv_records(f, encoding=ENCODING, path=path, counter=counter)
        first = next(records, None)
        if first is None:
            return
        header = Header(first.fields, required, path=path)
        for record in records:
            row = header.row(record)
            if not delta:
                yield record.end, Upsert(entry_of(row))
                continue
            change = _CHANGES.get(row[CHANGE_TYPE].lower())
            if change is None:
                raise row.error(f"unknown {CHANGE_TYPE} {row[CHANGE_TYPE]!r}")
            if change == "D":
                number = normalize_number(row["GMC Ref No"])
                if number is None:
                    raise row.error(f"bad GMC reference number {row['GMC Ref No']!r}")
                yield record.end, Withdraw(number, "removed from the medical register")
            else:
                yield record.end, Upsert(entry_of(row))

    return parse


def import_full(
    db: Database,
    path: str,
    *,
    progress: ProgressFn | None = None,
    batch_size: int = 5000,
    force: bool = False,
) -> ImportReport:
    """Import (or resume importing) the full LRMP data file."""
    return run_import(
        db,
        register=UK_GMC,
        kind="full",
        path=path,
        parser=_parse(False),
        progress=progress,
        batch_size=batch_size,
        force=force,
    )


def apply_delta(
    db: Database,
    path: str,
    *,
    progress: ProgressFn | None = None,
    batch_size: int = 5000,
) -> ImportReport:
    """Apply a daily LRMP delta file; the report lists entries that became inactive."""
    return run_import(
        db,
        register=UK_GMC,
        kind="delta",
        path=path,
        parser=_parse(True),
        progress=progress,
        batch_size=batch_size,
    )


class GmcVerifier(MirrorVerifier):
    register = UK_GMC
    number_label = "GMC reference number"

    def normalize(self, number: str) -> str | None:
        return normalize_number(number)
