"""Register files written in their published layouts, per test, and a local fake of the
live registers reached through the hub's settings (never by patching a verifier).

- NPPES monthly/weekly file: the 330 columns of the "NPPES Data Dissemination – Readme"
  (Exhibit 2-1, "Data File Layout"), quoted CSV, CRLF, dates MM/DD/YYYY.
- NPPES Deactivated NPI Report: an xlsx workbook whose first row is the title and second
  row the header (``NPI``, ``NPPES Deactivation Date``), written with openpyxl; and its CSV
  export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl

from connectors.resilience import RetryPolicy
from hub.persistence.db import Database
from hub.settings import Settings
from hub.verification import registry
from hub.verification.base import Verifier
from tests.verification_flows.registers import FakeRegisters

# A lookup budget short enough for tests; the policy is an argument of make_verifiers.
FAST = RetryPolicy(connect_timeout=0.5, read_timeout=0.5, retries=1, backoff=0.05, deadline=1.0)


def _nppes_columns() -> list[str]:
    cols = ["NPI", "Entity Type Code", "Replacement NPI", "Employer Identification Number (EIN)",
            "Provider Organization Name (Legal Business Name)", "Provider Last Name (Legal Name)",
            "Provider First Name", "Provider Middle Name", "Provider Name Prefix Text",
            "Provider Name Suffix Text", "Provider Credential Text", "Provider Other Organization Name",
            "Provider Other Organization Name Type Code", "Provider Other Last Name",
            "Provider Other First Name", "Provider Other Middle Name", "Provider Other Name Prefix Text",
            "Provider Other Name Suffix Text", "Provider Other Credential Text",
            "Provider Other Last Name Type Code"]
    for kind in ("Mailing Address", "Practice Location Address"):
        cols += [f"Provider First Line Business {kind}", f"Provider Second Line Business {kind}",
                 f"Provider Business {kind} City Name", f"Provider Business {kind} State Name",
                 f"Provider Business {kind} Postal Code",
                 f"Provider Business {kind} Country Code (If outside U.S.)",
                 f"Provider Business {kind} Telephone Number", f"Provider Business {kind} Fax Number"]
    cols += ["Provider Enumeration Date", "Last Update Date", "NPI Deactivation Reason Code",
             "NPI Deactivation Date", "NPI Reactivation Date", "Provider Sex Code",
             "Authorized Official Last Name", "Authorized Official First Name",
             "Authorized Official Middle Name", "Authorized Official Title or Position",
             "Authorized Official Telephone Number"]
    for n in range(1, 16):
        cols += [f"Healthcare Provider Taxonomy Code_{n}", f"Provider License Number_{n}",
                 f"Provider License Number State Code_{n}", f"Healthcare Provider Primary Taxonomy Switch_{n}"]
    for n in range(1, 51):
        cols += [f"Other Provider Identifier_{n}", f"Other Provider Identifier Type Code_{n}",
                 f"Other Provider Identifier State_{n}", f"Other Provider Identifier Issuer_{n}"]
    cols += ["Is Sole Proprietor", "Is Organization Subpart", "Parent Organization LBN",
             "Parent Organization TIN", "Authorized Official Name Prefix Text",
             "Authorized Official Name Suffix Text", "Authorized Official Credential Text"]
    cols += [f"Healthcare Provider Taxonomy Group_{n}" for n in range(1, 16)]
    cols += ["Certification Date"]
    return cols


NPPES_COLUMNS = _nppes_columns()
assert len(NPPES_COLUMNS) == 330


def nppes_physician(npi: str, first: str, last: str, *, middle: str = "", prefix: str = "",
                    suffix: str = "", state: str = "MA", deactivated: str = "", reactivated: str = "",
                    taxonomy: str = "207R00000X") -> dict[str, str]:
    """A monthly-file row of an individual (Entity Type Code 1)."""
    return {"NPI": npi, "Entity Type Code": "1", "Provider Last Name (Legal Name)": last.upper(),
            "Provider First Name": first.upper(), "Provider Middle Name": middle.upper(),
            "Provider Name Prefix Text": prefix, "Provider Name Suffix Text": suffix,
            "Provider Credential Text": "M.D.", "Provider Enumeration Date": "05/23/2006",
            "Last Update Date": "07/08/2024", "NPI Deactivation Date": deactivated,
            "NPI Reactivation Date": reactivated, "Provider Sex Code": "F",
            "Provider Business Practice Location Address State Name": state,
            "Healthcare Provider Taxonomy Code_1": taxonomy, "Provider License Number_1": "A123456",
            "Provider License Number State Code_1": state,
            "Healthcare Provider Primary Taxonomy Switch_1": "Y", "Is Sole Proprietor": "N"}


def nppes_deactivated_row(npi: str, when: str) -> dict[str, str]:
    """How the monthly file publishes a deactivated NPI: no Entity Type Code, nothing but
    the NPI and its deactivation date."""
    return {"NPI": npi, "NPI Deactivation Date": when}


def nppes_monthly(path: Path, rows: Sequence[Mapping[str, str] | Sequence[str]]) -> Path:
    """``rows``: dicts by column name, or raw field lists (for malformed rows)."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    w.writerow(NPPES_COLUMNS)
    for row in rows:
        w.writerow([row.get(c, "") for c in NPPES_COLUMNS] if isinstance(row, Mapping) else row)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


REPORT_HEADER = ("NPI", "NPPES Deactivation Date")


def deactivation_report_xlsx(path: Path, rows: Sequence[Sequence[Any]], *,
                             title: str = "NPPES Deactivated NPI Report 20241209",
                             header: Sequence[str] = REPORT_HEADER) -> Path:
    """The report as CMS publishes it: title row, header row, then NPI and date cells."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Deactivated NPI Report"
    ws.append([title])
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def deactivation_report_csv(path: Path, rows: Sequence[Sequence[str]], *, title: bool = True) -> Path:
    """The CSV export of the report (Excel's "Save as CSV" keeps the title line)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if title:
        w.writerow(["NPPES Deactivated NPI Report 20241209", ""])
    w.writerow(REPORT_HEADER)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def live_verifiers(db: Database, fake: FakeRegisters, *, policy: RetryPolicy = FAST,
                   **over: Any) -> dict[str, Verifier]:
    """The hub's verifiers, configured as an operator would (CURBSIDE_* settings), pointed
    at the local fake registers."""
    # The fake listens on 127.0.0.1 over http: the outbound guard refuses both unless
    # CURBSIDE_OUTBOUND_ALLOW_LOCAL is on (tests and demos only).
    env = {"CURBSIDE_INSECURE_TRANSPORT": "1", "CURBSIDE_OUTBOUND_ALLOW_LOCAL": "1",
           "CURBSIDE_BIG_ENDPOINT": f"{fake.base}/big", "CURBSIDE_NPPES_API_URL": f"{fake.base}/nppes"}
    return registry.make_verifiers(db, settings=Settings.from_env(env, **over), policy=policy)


def as_datetime(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)
