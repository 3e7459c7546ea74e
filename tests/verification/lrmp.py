"""Rows of the GMC LRMP data file in its published 45-column layout (the full file and the
daily delta share it), for tests and the benchmark."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hub.verification.uk_gmc import LRMP_COLUMNS

LICENSED = "Registered with Licence"


def lrmp_row(number: str, surname: str, given: str, *, other: str = "", status: str = LICENSED,
             conditions: str = "N", undertakings: str = "N", warnings: str = "N", pr_date: str = "",
             fr_date: str = "1082001", specialist_date: str = "", gp_date: str = "",
             specialties: tuple[str, ...] = (), **columns: str) -> list[str]:
    """One row; ``columns`` sets any other column by its name with spaces as underscores."""
    values = {
        "GMC Ref No": number, "Surname": surname, "Given Name": given, "Gender": "W",
        "Qualification": "MB ChB", "Year Of Qualification": "2000",
        "Place of Qualification": "University of Leeds", "PR Date": pr_date, "FR Date": fr_date,
        "Specialist Register Date": specialist_date, "GP Register Date": gp_date,
        "Registration Status": status, "ARF Due Date": "1012027", "FTP Conditions Exist": conditions,
        "FTP Undertakings Exist": undertakings, "Other Names": other, "FTP Warnings Exist": warnings,
        "Place of Qualification Country": "United Kingdom", "Revalidation Status": "",
        "Designated Body": "NHS England", "Responsible Officer": "", "Doctor in Training": "N",
        "GMC Approved Trainer": "N",
    }
    for i, specialty in enumerate(specialties, start=1):
        values[f"Specialty {i}"] = specialty
    for key, value in columns.items():
        values[key.replace("_", " ")] = value
    unknown = set(values) - set(LRMP_COLUMNS)
    assert not unknown, unknown
    return [values.get(c, "") for c in LRMP_COLUMNS]


def lrmp_text(rows: list[list[str]], *, header: list[str] | None = None, change_types: list[str] | None = None
              ) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    names = list(header or LRMP_COLUMNS)
    w.writerow(["Change Type", *names] if change_types is not None else names)
    for i, row in enumerate(rows):
        w.writerow([change_types[i], *row] if change_types is not None else row)
    return buf.getvalue()


def write_lrmp(path: Path, rows: list[list[str]], **kw: object) -> str:
    path.write_text(lrmp_text(rows, **kw), encoding="utf-8")  # type: ignore[arg-type]
    return str(path)
