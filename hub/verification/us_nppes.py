"""United States: NPPES (CMS), NPI Registry API 2.1 + the monthly bulk file as mirror.

What NPPES proves, and what it does not: an NPI identifies a provider and NPPES publishes
the taxonomy (specialty) and state licence numbers the provider *reported*. NPPES does not
check those licences with the state boards, so a match is evidence of identity and of a
self-reported licence only. Evidence from here is therefore capped at ``register_match``
and its check_details say ``licence-self-reported`` (see docs/verification.md).

API (``GET https://npiregistry.cms.hhs.gov/api/?version=2.1&number=<NPI>``, the URL is
CURBSIDE_NPPES_API_URL): ``results[].number``, ``enumeration_type`` (NPI-1 individual,
NPI-2 organisation), ``basic.first_name/middle_name/last_name/name_prefix/name_suffix/
status`` ("A" active) and ``taxonomies[]`` with ``code``, ``desc``, ``license``,
``state``, ``primary``. Physician taxonomy codes start with ``20`` (allopathic &
osteopathic physicians). A deactivated NPI is answered with HTTP 200 and
``{"Errors": [{"field": "number", "number": "15", "description": "CMS deactivated NPI
...}]}``: that is the register's answer "deactivated", not an outage. Any other
``Errors`` answer, or one that is not the documented JSON, is an outage.

Bulk file (``npidata_pfile_*.csv``, "NPPES Data Dissemination – Readme"): ``NPI``,
``Entity Type Code``, ``Provider Last Name (Legal Name)``, ``Provider First Name``,
``Provider Middle Name``, ``Provider Name Prefix Text``, ``Provider Name Suffix Text``,
``Provider Enumeration Date``, ``NPI Deactivation Date``, ``NPI Reactivation Date`` and,
for n = 1..15, ``Healthcare Provider Taxonomy Code_n``, ``Provider License Number_n``,
``Provider License Number State Code_n``, ``Healthcare Provider Primary Taxonomy
Switch_n``; dates MM/DD/YYYY. A deactivated NPI is a row with an empty Entity Type Code
and only the NPI and its deactivation date; a deactivation date without a later
reactivation date is a deactivated NPI. Only individuals with a physician taxonomy are
mirrored in full; every deactivation is recorded, as a stub when the NPI was not mirrored.

The "NPPES Deactivated NPI Report" is published as an xlsx workbook whose first row is a
title ("NPPES Deactivated NPI Report <date>") and second row the header ``NPI``,
``NPPES Deactivation Date``; it is read as published (openpyxl, read-only), or as its CSV
export (with or without the title line).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, BinaryIO
from xml.etree import ElementTree

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from hub.persistence.db import Database
from hub.verification import mirror
from hub.verification.base import (
    EntryStatus,
    RegisterEntry,
    RegisterFileError,
    RegisterResult,
    RegisterUnavailable,
    RegistrationClaim,
    ResultStatus,
    judge,
)
from hub.verification.checking import LiveVerifier
from hub.verification.importing import (
    ImportReport,
    Op,
    Parser,
    ProgressFn,
    Upsert,
    run_import,
)
from hub.verification.readers import Header, LineCounter, Row, csv_records, parse_date
from hub.verification.vocabulary import PROFESSION_PHYSICIAN, REGISTER_MATCH, RegisterInfo

# NPPES proves the provider's identity (NPI) and a *self-reported* state licence: it is
# never evidence of an active licence, so it is capped at the lowest level.
INFO = RegisterInfo("us-nppes", "US", "USA", "NPPES NPI Registry",
                    "Centers for Medicare & Medicaid Services", REGISTER_MATCH, proves_licence=False)
US_NPPES = INFO.id

API_URL = "https://npiregistry.cms.hhs.gov/api/"
API_VERSION = "2.1"
PHYSICIAN_PREFIX = "20"
TAXONOMY_SLOTS = 15
EVIDENCE_NOTE = "licence-self-reported"
DEACTIVATED_ERROR = "15"  # NPI Registry API: "CMS deactivated NPI ..."
REPORT_TITLE = "NPPES Deactivated NPI Report"
_NUMBER = re.compile(r"^\d{10}$")
_DATE = ("%m/%d/%Y", "%Y-%m-%d")

BULK_REQUIRED = (
    "NPI",
    "Entity Type Code",
    "Provider Last Name (Legal Name)",
    "Provider First Name",
    "Provider Middle Name",
    "Provider Name Prefix Text",
    "Provider Name Suffix Text",
    "Provider Enumeration Date",
    "NPI Deactivation Date",
    "NPI Reactivation Date",
    *(
        f"{name}_{n}"
        for n in range(1, TAXONOMY_SLOTS + 1)
        for name in (
            "Healthcare Provider Taxonomy Code",
            "Provider License Number",
            "Provider License Number State Code",
            "Healthcare Provider Primary Taxonomy Switch",
        )
    ),
)
DEACTIVATION_REQUIRED = ("NPI", "NPPES Deactivation Date")


def luhn_ok(npi: str) -> bool:
    """The NPI check digit: Luhn over the prefix 80840 and the first nine digits."""
    digits = [int(c) for c in "80840" + npi]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return total % 10 == 0


def normalize_number(number: str) -> str | None:
    digits = re.sub(r"[\s-]", "", number)
    return digits if _NUMBER.match(digits) and luhn_ok(digits) else None


def _entry(
    npi: str,
    first: str,
    middle: str,
    last: str,
    licences: list[dict[str, Any]],
    *,
    active: bool,
    detail: str,
    since: date | None,
    specialties: Sequence[str],
    prefix: str = "",
    suffix: str = "",
    deactivated: date | None = None,
    reactivated: date | None = None,
) -> RegisterEntry:
    physician = [lic for lic in licences if lic["taxonomy"].startswith(PHYSICIAN_PREFIX)]
    primary = next((lic for lic in licences if lic["primary"]), licences[0] if licences else None)
    extra: dict[str, Any] = {"licences": licences}
    # Kept apart from the names, as NPPES publishes them: a "Dr." or "Jr." is no name to
    # compare (names.py), and RegisterEntry.name_prefix is a surname particle.
    if prefix:
        extra["name_prefix_text"] = prefix
    if suffix:
        extra["name_suffix"] = suffix
    if deactivated:
        extra["deactivated"] = deactivated.isoformat()
    if reactivated:
        extra["reactivated"] = reactivated.isoformat()
    return RegisterEntry(
        register=US_NPPES,
        number=npi,
        family_name=last,
        given_names=" ".join(p for p in (first, middle) if p),
        profession=PROFESSION_PHYSICIAN if physician else "other provider",
        status=EntryStatus.ACTIVE if active else EntryStatus.INACTIVE,
        profession_code=primary["taxonomy"] if primary else "",
        specialties=tuple(dict.fromkeys(specialties)),
        registered_since=since,
        status_detail=detail,
        extra=extra,
    )


def deactivation_stub(npi: str, when: date | None) -> RegisterEntry:
    """A deactivated NPI the mirror holds nothing else about (NPPES publishes only the NPI
    and the date): it answers "deactivated" and proves no one's name."""
    detail = f"NPI deactivated on {when.isoformat()}" if when else "NPI deactivated"
    return RegisterEntry(
        register=US_NPPES,
        number=npi,
        family_name="",
        given_names="",
        profession="",
        status=EntryStatus.INACTIVE,
        status_detail=detail,
        extra={"stub": True, **({"deactivated": when.isoformat()} if when else {})},
    )


def is_stub(entry: RegisterEntry) -> bool:
    return bool(entry.extra.get("stub"))


def deactivated(entry: RegisterEntry, when: date | None) -> RegisterEntry | None:
    """``entry`` marked deactivated on ``when``, or None when the register reactivated it
    later (a deactivation date without a later reactivation date means inactive)."""
    reactivated = entry.extra.get("reactivated")
    if when is not None and reactivated and date.fromisoformat(reactivated) > when:
        return None
    if is_stub(entry):
        return deactivation_stub(entry.number, when or _day(entry.extra.get("deactivated")))
    extra = dict(entry.extra)
    if when is not None:
        extra["deactivated"] = when.isoformat()
    detail = f"NPI deactivated on {when.isoformat()}" if when else "NPI deactivated"
    return replace(entry, status=EntryStatus.INACTIVE, status_detail=detail, extra=extra)


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


# --- API ------------------------------------------------------------------------------


def parse_api(payload: Any, number: str) -> list[RegisterEntry]:
    """Entries from an NPI Registry answer for ``number``; a deactivated NPI is one stub.
    Raises RegisterUnavailable for anything else that is not the documented answer."""
    if not isinstance(payload, dict):
        raise RegisterUnavailable("malformed answer from the NPI Registry")
    if "Errors" in payload:
        errors = payload["Errors"]
        if (
            isinstance(errors, list)
            and errors
            and all(isinstance(e, dict) and str(e.get("number")) == DEACTIVATED_ERROR for e in errors)
        ):
            return [deactivation_stub(number, None)]
        raise RegisterUnavailable("NPI Registry answered with errors")
    results = payload.get("results")
    if not isinstance(results, list):
        raise RegisterUnavailable("malformed answer from the NPI Registry")
    entries = []
    for item in results:
        try:
            basic = item.get("basic") or {}
            if item.get("enumeration_type") != "NPI-1":
                continue
            taxonomies = item.get("taxonomies") or []
            licences = [
                {
                    "taxonomy": str(t.get("code") or ""),
                    "license": str(t.get("license") or ""),
                    "state": str(t.get("state") or ""),
                    "primary": bool(t.get("primary")),
                }
                for t in taxonomies
            ]
            since_text = str(basic.get("enumeration_date") or "")
            entries.append(
                _entry(
                    str(item["number"]),
                    str(basic.get("first_name") or ""),
                    str(basic.get("middle_name") or ""),
                    str(basic.get("last_name") or ""),
                    licences,
                    prefix=_api_text(basic.get("name_prefix")),
                    suffix=_api_text(basic.get("name_suffix")),
                    active=basic.get("status") == "A",
                    detail="NPI active" if basic.get("status") == "A" else "NPI not active",
                    since=date.fromisoformat(since_text) if since_text else None,
                    specialties=[
                        str(t.get("desc") or t.get("code"))
                        for t in taxonomies
                        if str(t.get("code") or "").startswith(PHYSICIAN_PREFIX)
                    ],
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise RegisterUnavailable("malformed answer from the NPI Registry") from None
    return entries


def _api_text(value: Any) -> str:
    text = str(value or "").strip()
    return "" if text == "--" else text  # the API writes "--" for "none"


class NppesVerifier(LiveVerifier):
    info = INFO
    number_label = "NPI"

    def __init__(self, db: Database, *, api_url: str = API_URL, **kw: Any) -> None:
        super().__init__(db, **kw)
        self.api_url = api_url  # CURBSIDE_NPPES_API_URL

    def normalize(self, number: str) -> str | None:
        return normalize_number(number)

    def fetch(self, number: str, timeout: tuple[float, float]) -> Sequence[RegisterEntry]:
        response = self.http.get(
            self.api_url, params={"version": API_VERSION, "number": number}, timeout=timeout
        )
        response.raise_for_status()
        try:
            payload = response.json()
        except ValueError:
            raise RegisterUnavailable("NPI Registry answer is not JSON") from None
        return parse_api(payload, number)

    def keep_live(self, entries: Sequence[RegisterEntry]) -> Sequence[RegisterEntry]:
        """A deactivation answer names no one: it turns the mirrored entry (if any) inactive,
        keeping its names, and is otherwise recorded as a stub."""
        stubs = {e.number for e in entries if is_stub(e)}
        if stubs:
            with self.db.session() as s:
                known = mirror.existing(s.connection(), US_NPPES, stubs)
            entries = [
                (deactivated(mirror.row_to_entry(known[e.number]), None) or e)
                if e.number in known
                else e
                for e in entries
            ]
        return super().keep_live(entries)

    def judge(
        self,
        claim: RegistrationClaim,
        entry: RegisterEntry | None,
        *,
        method: str,
        evidence_time: datetime | None = None,
    ) -> RegisterResult:
        if entry is not None and is_stub(entry):
            # NPPES publishes deactivations (report, API) with the NPI alone; they tell
            # anyone the NPI is out of service, and nothing about names.
            return RegisterResult(
                ResultStatus.INACTIVE, f"register says: {entry.status_detail}", self.clock(), self.register
            )
        result = judge(
            claim,
            entry,
            checked_at=self.clock(),
            method=method,
            info=self.info,
            evidence_time=evidence_time,
            note=EVIDENCE_NOTE,
        )
        if result.status is ResultStatus.MATCH and claim.jurisdiction and entry is not None:
            states = {
                lic["state"].upper()
                for lic in entry.extra.get("licences", [])
                if lic["taxonomy"].startswith(PHYSICIAN_PREFIX)
            }
            if claim.jurisdiction.upper() not in states:
                return RegisterResult(
                    ResultStatus.NEEDS_REVIEW,
                    f"no self-reported physician licence for {claim.jurisdiction.upper()}",
                    result.checked_at,
                    result.register,
                    entry=result.entry,
                    evidence=result.evidence,
                )
        return result


# --- bulk files -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Deactivation:
    """A deactivation read from a file; what it does depends on what the mirror holds."""

    npi: str
    when: date


def _d(row: Row, column: str) -> date | None:
    return parse_date(row[column], _DATE, line=row.record.start, path=row.header.path)


def _npi(row: Row) -> str:
    npi = normalize_number(row["NPI"])
    if npi is None:
        raise row.error(f"bad NPI {row['NPI']!r}")
    return npi


def _bulk_item(row: Row) -> Upsert | _Deactivation | None:
    npi = _npi(row)
    entity = row["Entity Type Code"]
    deactivated_on, reactivated = _d(row, "NPI Deactivation Date"), _d(row, "NPI Reactivation Date")
    if entity == "":
        # NPPES Data Dissemination Readme: a deactivated NPI keeps only its NPI and date.
        if deactivated_on is None:
            raise row.error("row without Entity Type Code nor NPI Deactivation Date")
        return _Deactivation(npi, deactivated_on)
    if entity == "2":
        return None
    if entity != "1":
        raise row.error(f"bad Entity Type Code {entity!r}")
    licences: list[dict[str, Any]] = []
    for n in range(1, TAXONOMY_SLOTS + 1):
        code = row[f"Healthcare Provider Taxonomy Code_{n}"]
        if code:
            licences.append(
                {
                    "taxonomy": code,
                    "license": row[f"Provider License Number_{n}"],
                    "state": row[f"Provider License Number State Code_{n}"],
                    "primary": row[f"Healthcare Provider Primary Taxonomy Switch_{n}"] == "Y",
                }
            )
    if not any(lic["taxonomy"].startswith(PHYSICIAN_PREFIX) for lic in licences):
        return _Deactivation(npi, deactivated_on) if _inactive(deactivated_on, reactivated) else None
    active = not _inactive(deactivated_on, reactivated)
    detail = "NPI active" if active else f"NPI deactivated on {deactivated_on}"
    return Upsert(
        _entry(
            npi,
            row["Provider First Name"],
            row["Provider Middle Name"],
            row["Provider Last Name (Legal Name)"],
            licences,
            active=active,
            detail=detail,
            since=_d(row, "Provider Enumeration Date"),
            specialties=[lic["taxonomy"] for lic in licences if lic["taxonomy"].startswith(PHYSICIAN_PREFIX)],
            prefix=row["Provider Name Prefix Text"],
            suffix=row["Provider Name Suffix Text"],
            deactivated=deactivated_on,
            reactivated=reactivated,
        )
    )


def _inactive(deactivated_on: date | None, reactivated: date | None) -> bool:
    return deactivated_on is not None and (reactivated is None or reactivated <= deactivated_on)


def _resolved(db: Database, items: Iterable[tuple[int, Any]], chunk: int = 1000) -> Iterator[tuple[int, Op]]:
    """Turn each deactivation into an upsert: the mirrored entry marked inactive (its names
    kept) or, for an NPI never mirrored, a stub, so that it is recorded either way. One
    mirror query per ``chunk`` items; order and positions are kept."""
    buffer: list[tuple[int, Any]] = []

    def flush() -> Iterator[tuple[int, Op]]:
        npis = {item.npi for _, item in buffer if isinstance(item, _Deactivation)}
        known: dict[str, RegisterEntry] = {}
        if npis:
            with db.engine.connect() as conn:
                known = {n: mirror.row_to_entry(r) for n, r in mirror.existing(conn, US_NPPES, npis).items()}
        for line, item in buffer:
            if isinstance(item, Upsert):
                known[item.entry.number] = item.entry
                yield line, item
                continue
            current = known.get(item.npi)
            if current is None:
                entry: RegisterEntry | None = deactivation_stub(item.npi, item.when)
            else:
                entry = deactivated(current, item.when)
            if entry is not None:
                known[item.npi] = entry
                yield line, Upsert(entry)
        buffer.clear()

    try:
        for line, item in items:
            buffer.append((line, item))
            if len(buffer) >= chunk:
                yield from flush()
    except RegisterFileError:
        # The rows before the bad one still reach the driver, which commits the batches
        # they complete (and nothing of the failing one), as for any register file.
        yield from flush()
        raise
    yield from flush()


def _bulk_parser(db: Database) -> Parser:
    def parse(f: BinaryIO, counter: LineCounter, path: str) -> Iterator[tuple[int, Op]]:
        def items() -> Iterator[tuple[int, Any]]:
            records = csv_records(f, encoding="utf-8", path=path, counter=counter)
            first = next(records, None)
            if first is None:
                return
            header = Header(first.fields, BULK_REQUIRED, path=path)
            for record in records:
                item = _bulk_item(header.row(record))
                if item is not None:
                    yield record.end, item

        return _resolved(db, items())

    return parse


# The deactivation report: xlsx as published, or its CSV export ------------------------


def _report_npi(value: Any, line: int, path: str) -> str:
    if isinstance(value, bool):
        value = None
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    npi = normalize_number(str(value)) if isinstance(value, int | str) else None
    if npi is None:
        raise RegisterFileError(f"bad NPI {value!r}", line=line, path=path)
    return npi


def _report_date(value: Any, line: int, path: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    when = parse_date(value, _DATE, line=line, path=path) if isinstance(value, str) else None
    if when is None:
        raise RegisterFileError("empty or bad NPPES Deactivation Date", line=line, path=path)
    return when


def _report_rows(rows: Iterator[tuple[int, Sequence[Any]]], path: str) -> Iterator[tuple[int, _Deactivation]]:
    """(line, cells) of a report → deactivations. The title row is optional (a CSV export
    may have dropped it); the header must name the columns."""
    header: list[str] | None = None
    npi_at = date_at = 0

    def error(message: str, line: int) -> RegisterFileError:
        return RegisterFileError(message, line=line, path=path)

    for line, cells in rows:
        values = ["" if c is None else str(c).strip() for c in cells]
        if not any(values):
            continue  # blank rows (spreadsheets keep a few)
        if header is None:
            if line <= 2 and "NPI" not in values:
                if not values[0].startswith(REPORT_TITLE):
                    raise error(f"expected the title {REPORT_TITLE!r} or the header", line)
                continue
            while values and not values[-1]:
                values.pop()  # a sheet is as wide as its widest row
            try:
                Header(values, DEACTIVATION_REQUIRED, path=path)  # missing or duplicate columns
            except RegisterFileError as exc:
                raise error(exc.detail, line) from None
            header = values
            npi_at, date_at = header.index("NPI"), header.index("NPPES Deactivation Date")
            continue
        if len(cells) > len(header) and any(c not in (None, "") for c in cells[len(header):]):
            raise error(f"expected {len(header)} fields, found {len(cells)}", line)
        cell = list(cells) + [None] * (len(header) - len(cells))
        npi, when = _report_npi(cell[npi_at], line, path), _report_date(cell[date_at], line, path)
        yield line, _Deactivation(npi, when)
    if header is None:
        raise error(f"no header row ({', '.join(DEACTIVATION_REQUIRED)})", 1)


def _xlsx_rows(f: BinaryIO, counter: LineCounter, path: str) -> Iterator[tuple[int, Sequence[Any]]]:
    try:
        workbook = openpyxl.load_workbook(f, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, ElementTree.ParseError):
        raise RegisterFileError("not a readable xlsx workbook", line=1, path=path) from None
    try:
        sheet = workbook.worksheets[0]
        for line, cells in enumerate(sheet.iter_rows(values_only=True), 1):
            counter.line = line
            yield line, cells
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, ElementTree.ParseError):
        # ValueError includes defusedxml's refusal of DTDs and entities in the sheet.
        raise RegisterFileError("damaged xlsx workbook", line=counter.line + 1, path=path) from None
    finally:
        workbook.close()


def _csv_rows(f: BinaryIO, counter: LineCounter, path: str) -> Iterator[tuple[int, Sequence[Any]]]:
    for record in csv_records(f, encoding="utf-8", path=path, counter=counter):
        yield record.start, record.fields


def _report_parser(db: Database) -> Parser:
    def parse(f: BinaryIO, counter: LineCounter, path: str) -> Iterator[tuple[int, Op]]:
        rows = _xlsx_rows if f.read(4) == b"PK\x03\x04" else _csv_rows  # an xlsx is a zip
        f.seek(0)
        return _resolved(db, _report_rows(rows(f, counter, path), path))

    return parse


def import_full(
    db: Database,
    path: str,
    *,
    progress: ProgressFn | None = None,
    batch_size: int = 5000,
    force: bool = False,
) -> ImportReport:
    """Import the monthly full replacement file (or a weekly incremental one)."""
    return run_import(
        db,
        register=US_NPPES,
        kind="full",
        path=path,
        parser=_bulk_parser(db),
        progress=progress,
        batch_size=batch_size,
        force=force,
    )


def apply_deactivations(
    db: Database, path: str, *, progress: ProgressFn | None = None, batch_size: int = 5000
) -> ImportReport:
    """Apply the NPPES Deactivated NPI Report (xlsx as published, or its CSV export)."""
    return run_import(
        db,
        register=US_NPPES,
        kind="deactivations",
        path=path,
        parser=_report_parser(db),
        progress=progress,
        batch_size=batch_size,
    )


apply_delta = apply_deactivations
