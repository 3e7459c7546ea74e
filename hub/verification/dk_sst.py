"""Denmark: Autorisationsregisteret (Styrelsen for Patientsikkerhed), mirror only.

The register is distributed (through the national service platform's "stamdata" copy
registers) as a complete extract, refreshed daily: a file named ``YYYYMMDDAutDK.csv``,
ISO-8859-15, no header, one authorisation per line, five ``;``-separated fields:

    autorisationsnummer;cpr;efternavn;fornavn;uddannelseskode

The authorisation ID has five characters (digits, consonants and Y); education code
``7170`` is læge (physician). The extract lists current authorisations only, so an entry
that disappears from the daily extract has lost its authorisation: the daily update is
applied as a snapshot (entries that vanished become inactive, with a guard against
suspiciously large reductions). The CPR number is never stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from hub.db import Database
from hub.verification.base import EntryStatus, RegisterEntry, RegisterFileError
from hub.verification.checking import MirrorVerifier
from hub.verification.importing import ImportReport, Op, ProgressFn, Upsert, run_import
from hub.verification.readers import LineCounter, csv_records, no_control_characters
from hub.verification.vocabulary import DK_SST, PROFESSION_PHYSICIAN

ENCODING = "iso8859_15"
FIELDS = 5
PHYSICIAN_CODE = "7170"
# Replacement authorisation numbers that name no person (skipped).
PLACEHOLDERS = frozenset({"09YM8", "09YM9", "09YMB"})
EDUCATION = {
    PHYSICIAN_CODE: PROFESSION_PHYSICIAN,
    "5433": "dentist",
    "5166": "nurse",
    "5175": "midwife",
    "5151": "physiotherapist",
    "5265": "chiropractor",
}
_AUT_ID = re.compile(r"^[0-9BCDFGHJKLMNPQRSTVWXYZ]{5}$")
_CODE = re.compile(r"^[0-9A-Z]{1,4}$")


def normalize_number(number: str) -> str | None:
    aut = number.strip().upper()
    return aut if _AUT_ID.match(aut) else None


def _looks_utf8(text: str) -> bool:
    """The line's bytes are valid UTF-8 with non-ASCII letters: a UTF-8 file. (Matching
    "Ã" + a Latin-1 continuation is not enough: in ISO-8859-15 the bytes of "ø" and "æ"
    read as "Ãž" and "ÃŠ", outside that range.) Real ISO-8859-15 names are not valid
    UTF-8: that would take a letter followed by a symbol such as "§", "°" or "€"."""
    if text.isascii():
        return False
    try:
        return not text.encode(ENCODING).decode("utf-8").isascii()
    except UnicodeError:
        return False


def _check_line(text: str, line: int, path: str) -> None:
    no_control_characters(text.rstrip("\r\n"), line, path=path)
    if _looks_utf8(text):
        raise RegisterFileError("looks UTF-8 encoded, expected ISO-8859-15", line=line, path=path)


def _parse(f: BinaryIO, counter: LineCounter, path: str) -> Iterator[tuple[int, Op]]:
    def check(text: str, line: int) -> None:
        _check_line(text, line, path)

    for record in csv_records(f, encoding=ENCODING, delimiter=";", path=path, counter=counter, check=check):
        if len(record.fields) != FIELDS:
            raise RegisterFileError(
                f"expected {FIELDS} fields, found {len(record.fields)}",
                line=record.start,
                path=path,
            )
        aut_id, _cpr, family, given, code = (v.strip() for v in record.fields)
        if aut_id in PLACEHOLDERS:
            continue
        number = normalize_number(aut_id)
        if number is None or not _CODE.match(code) or not family:
            raise RegisterFileError(f"bad authorisation record {aut_id!r}", line=record.start, path=path)
        yield (
            record.end,
            Upsert(
                RegisterEntry(
                    register=DK_SST,
                    number=number,
                    family_name=family,
                    given_names=given,
                    profession=EDUCATION.get(code, f"education {code}"),
                    status=EntryStatus.ACTIVE,
                    profession_code=code,
                    status_detail="authorised",
                )
            ),
        )


def _run(
    db: Database,
    path: str,
    kind: str,
    *,
    progress: ProgressFn | None,
    batch_size: int,
    force: bool = False,
    max_withdraw_fraction: float = 0.05,
    max_withdraw_absolute: int = 50,
) -> ImportReport:
    return run_import(
        db,
        register=DK_SST,
        kind=kind,
        path=path,
        parser=_parse,
        snapshot=True,
        progress=progress,
        batch_size=batch_size,
        force=force,
        max_withdraw_fraction=max_withdraw_fraction,
        max_withdraw_absolute=max_withdraw_absolute,
        vanished_detail="authorisation no longer in the register",
    )


def import_full(
    db: Database,
    path: str,
    *,
    progress: ProgressFn | None = None,
    batch_size: int = 5000,
    force: bool = False,
    max_withdraw_fraction: float = 0.05,
    max_withdraw_absolute: int = 50,
) -> ImportReport:
    """Import a complete extract (the first load, or a re-sync)."""
    return _run(
        db,
        path,
        "snapshot",
        progress=progress,
        batch_size=batch_size,
        force=force,
        max_withdraw_fraction=max_withdraw_fraction,
        max_withdraw_absolute=max_withdraw_absolute,
    )


def apply_delta(
    db: Database,
    path: str,
    *,
    progress: ProgressFn | None = None,
    batch_size: int = 5000,
    max_withdraw_fraction: float = 0.05,
    max_withdraw_absolute: int = 50,
) -> ImportReport:
    """Apply the daily extract; the report lists authorisations that ended."""
    return _run(
        db,
        path,
        "daily",
        progress=progress,
        batch_size=batch_size,
        max_withdraw_fraction=max_withdraw_fraction,
        max_withdraw_absolute=max_withdraw_absolute,
    )


class SstVerifier(MirrorVerifier):
    register = DK_SST
    number_label = "autorisations-ID"

    def normalize(self, number: str) -> str | None:
        return normalize_number(number)
