"""United States: NPPES (CMS), NPI Registry API 2.1 + the monthly bulk file as mirror.

What NPPES proves, and what it does not: an NPI identifies a provider and NPPES publishes
the taxonomy (specialty) and state licence numbers the provider *reported*. NPPES does not
check those licences with the state boards, so a match is evidence of identity and of a
self-reported licence only. Evidence from here is therefore capped at ``register_match``
and its check_details say ``licence-self-reported`` (see docs/verification.md).

API (``GET https://npiregistry.cms.hhs.gov/api/?version=2.1&number=<NPI>``):
``results[].number``, ``enumeration_type`` (NPI-1 individual, NPI-2 organisation),
``basic.first_name/middle_name/last_name/status`` ("A" active) and ``taxonomies[]`` with
``code``, ``desc``, ``license``, ``state``, ``primary``. Physician taxonomy codes start
with ``20`` (allopathic & osteopathic physicians).

Bulk file (``npidata_pfile_*.csv``): ``NPI``, ``Entity Type Code``, ``Provider Last Name
(Legal Name)``, ``Provider First Name``, ``Provider Middle Name``, ``Provider Enumeration
Date``, ``NPI Deactivation Date``, ``NPI Reactivation Date`` and, for n = 1..15,
``Healthcare Provider Taxonomy Code_n``, ``Provider License Number_n``, ``Provider License
Number State Code_n``, ``Healthcare Provider Primary Taxonomy Switch_n``; dates MM/DD/YYYY.
A deactivated NPI appears as a row with only the NPI and its deactivation date. Only
individuals with a physician taxonomy are mirrored. The deactivation report (published as
a spreadsheet; import its CSV export) has ``NPI`` and ``NPPES Deactivation Date``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, BinaryIO

from hub.db import Database
from hub.verification.base import (
    EntryStatus,
    RegisterEntry,
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
    Withdraw,
    run_import,
)
from hub.verification.readers import Header, LineCounter, Row, csv_records, parse_date
from hub.verification.vocabulary import PROFESSION_PHYSICIAN, US_NPPES

API_URL = "https://npiregistry.cms.hhs.gov/api/"
API_VERSION = "2.1"
PHYSICIAN_PREFIX = "20"
TAXONOMY_SLOTS = 15
EVIDENCE_NOTE = "licence-self-reported"
_NUMBER = re.compile(r"^\d{10}$")
_DATE = ("%m/%d/%Y", "%Y-%m-%d")

BULK_REQUIRED = (
    "NPI",
    "Entity Type Code",
    "Provider Last Name (Legal Name)",
    "Provider First Name",
    "Provider Middle Name",
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
) -> RegisterEntry:
    physician = [lic for lic in licences if lic["taxonomy"].startswith(PHYSICIAN_PREFIX)]
    primary = next((lic for lic in licences if lic["primary"]), licences[0] if licences else None)
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
        extra={"licences": licences},
    )


# --- API ------------------------------------------------------------------------------


def parse_api(payload: Any) -> list[RegisterEntry]:
    if not isinstance(payload, dict) or "Errors" in payload:
        raise RegisterUnavailable("NPI Registry answered with errors")
    entries = []
    for item in payload.get("results") or []:
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


class NppesVerifier(LiveVerifier):
    register = US_NPPES
    number_label = "NPI"
    api_url = API_URL

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
        return parse_api(payload)

    def judge(
        self,
        claim: RegistrationClaim,
        entry: RegisterEntry | None,
        *,
        method: str,
        evidence_time: datetime | None = None,
    ) -> RegisterResult:
        result = judge(
            claim,
            entry,
            checked_at=self.clock(),
            method=method,
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


def _d(row: Row, column: str) -> date | None:
    return parse_date(row[column], _DATE, line=row.record.start, path=row.header.path)


def _npi(row: Row) -> str:
    npi = normalize_number(row["NPI"])
    if npi is None:
        raise row.error(f"bad NPI {row['NPI']!r}")
    return npi


def _bulk_op(row: Row) -> Op | None:
    npi = _npi(row)
    entity = row["Entity Type Code"]
    deactivated, reactivated = _d(row, "NPI Deactivation Date"), _d(row, "NPI Reactivation Date")
    if entity == "":
        if deactivated is None:
            raise row.error("row without Entity Type Code nor deactivation date")
        return Withdraw(npi, f"NPI deactivated on {deactivated.isoformat()}")
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
        return None
    active = deactivated is None or (reactivated is not None and reactivated >= deactivated)
    detail = "NPI active" if active else f"NPI deactivated on {deactivated}"
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
        )
    )


def _csv_parser(required: Sequence[str], to_op: Any) -> Parser:
    def parse(f: BinaryIO, counter: LineCounter, path: str) -> Iterator[tuple[int, Op]]:
        records = csv_records(f, encoding="utf-8", path=path, counter=counter)
        first = next(records, None)
        if first is None:
            return
        header = Header(first.fields, required, path=path)
        for record in records:
            op = to_op(header.row(record))
            if op is not None:
                yield record.end, op

    return parse


def _deactivation_op(row: Row) -> Op:
    when = _d(row, "NPPES Deactivation Date")
    if when is None:
        raise row.error("empty NPPES Deactivation Date")
    return Withdraw(_npi(row), f"NPI deactivated on {when.isoformat()}")


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
        parser=_csv_parser(BULK_REQUIRED, _bulk_op),
        progress=progress,
        batch_size=batch_size,
        force=force,
    )


def apply_deactivations(
    db: Database, path: str, *, progress: ProgressFn | None = None, batch_size: int = 5000
) -> ImportReport:
    """Apply the deactivated-NPI report; the report lists NPIs that became inactive."""
    return run_import(
        db,
        register=US_NPPES,
        kind="deactivations",
        path=path,
        parser=_csv_parser(DEACTIVATION_REQUIRED, _deactivation_op),
        progress=progress,
        batch_size=batch_size,
    )


apply_delta = apply_deactivations
