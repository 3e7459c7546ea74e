"""Denmark: Autorisationsregisteret (Styrelsen for Patientsikkerhed), mirror only.

The register is distributed (through the national service platform's "stamdata" copy
registers) as a complete extract, refreshed daily: a file named ``yyyyMMddAutDK.csv``
whose leading date is the extract's version and valid-from date, ISO-8859-15, no header,
one authorisation per line, five ``;``-separated fields:

    autorisationsnummer;cpr;efternavn;fornavn;uddannelseskode

The authorisation ID has five characters, each a digit or a consonant (Y counts as one;
Styrelsen for Patientsikkerhed, "Autorisations-ID"); education code ``7170`` is læge
(physician). The extract lists current authorisations only, so an entry that disappears
from it has lost its authorisation: every extract is applied as a snapshot. Because a
snapshot can withdraw, a file is refused (hub.verification.importing.ImportRefused,
nothing written) when its name carries no date, when it is not newer than the last
applied extract, or when it would withdraw more than the WithdrawalGuard allows; a dry
run lists who would lose their claim, and applying anyway takes ``accept_withdrawals``
(audited). The CPR number is never stored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import BinaryIO

from hub.persistence.db import Database
from hub.verification.base import EntryStatus, RegisterEntry, RegisterFileError
from hub.verification.checking import MirrorVerifier
from hub.verification.importing import (
    ImportRefused,
    ImportReport,
    Op,
    ProgressFn,
    Upsert,
    WithdrawalGuard,
    applied_file_names,
    file_digest,
    imported,
    run_import,
)
from hub.verification.readers import LineCounter, csv_records, no_control_characters
from hub.verification.vocabulary import PROFESSION_PHYSICIAN, PROFESSIONAL_EID, RegisterInfo

INFO = RegisterInfo("dk-sst", "DK", "DNK", "Autorisationsregisteret",
                    "Styrelsen for Patientsikkerhed", PROFESSIONAL_EID)
DK_SST = INFO.id

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
_FILE_DATE = re.compile(r"^(\d{8})")


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


def extract_date(path: str) -> date:
    """The extract's version and valid-from date: the file name's leading ``yyyyMMdd``."""
    name = os.path.basename(path)
    m = _FILE_DATE.match(name)
    if m is None:
        raise ImportRefused(
            f"file name {name!r} does not start with the extract's date (yyyyMMdd, e.g. "
            "20261201AutDK.csv); an undated extract cannot be ordered against the last one",
            path=path,
        )
    try:
        return datetime.strptime(m.group(1), "%Y%m%d").date()
    except ValueError:
        raise ImportRefused(f"file name {name!r} starts with {m.group(1)!r}, not a date", path=path) from None


def last_applied_date(db: Database) -> date | None:
    """The date of the newest extract applied completely (from the recorded file names)."""
    dates = []
    for name in applied_file_names(db, DK_SST):
        m = _FILE_DATE.match(name or "")
        if m is None:
            continue
        try:
            dates.append(datetime.strptime(m.group(1), "%Y%m%d").date())
        except ValueError:
            continue
    return max(dates, default=None)


def _run(
    db: Database,
    path: str,
    kind: str,
    *,
    progress: ProgressFn | None,
    batch_size: int,
    force: bool = False,
    dry_run: bool = False,
    guard: WithdrawalGuard | None = None,
    accept_withdrawals: bool = False,
    accepted_by: str = "system",
) -> ImportReport:
    valid_from = extract_date(path)
    last = last_applied_date(db)
    # The newest extract again is a no-op (or, with force, a re-read), not a stale one;
    # an older date never passes, even with content applied before (it may undo since).
    again = last == valid_from and imported(db, DK_SST, file_digest(path, version=valid_from.isoformat()))
    if last is not None and valid_from <= last and not again:
        raise ImportRefused(
            f"the extract is dated {valid_from.isoformat()}, not after the last applied one "
            f"({last.isoformat()}); an older extract would undo newer withdrawals",
            path=path,
        )
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
        dry_run=dry_run,
        guard=guard,
        accept_withdrawals=accept_withdrawals,
        accepted_by=accepted_by,
        vanished_detail="authorisation no longer in the register",
        version=valid_from.isoformat(),
    )


def import_full(
    db: Database,
    path: str,
    *,
    progress: ProgressFn | None = None,
    batch_size: int = 5000,
    force: bool = False,
    dry_run: bool = False,
    guard: WithdrawalGuard | None = None,
    accept_withdrawals: bool = False,
    accepted_by: str = "system",
) -> ImportReport:
    """Import a complete extract (the first load, or a re-sync). Raises ImportRefused for
    an undated or not newer file, or one withdrawing more than ``guard`` allows."""
    return _run(db, path, "snapshot", progress=progress, batch_size=batch_size, force=force,
                dry_run=dry_run, guard=guard, accept_withdrawals=accept_withdrawals,
                accepted_by=accepted_by)


def apply_delta(
    db: Database,
    path: str,
    *,
    progress: ProgressFn | None = None,
    batch_size: int = 5000,
    dry_run: bool = False,
    guard: WithdrawalGuard | None = None,
    accept_withdrawals: bool = False,
    accepted_by: str = "system",
) -> ImportReport:
    """Apply the daily extract (a complete snapshot too); the report lists the
    authorisations that ended and the doctors who lost their claim."""
    return _run(db, path, "daily", progress=progress, batch_size=batch_size, dry_run=dry_run,
                guard=guard, accept_withdrawals=accept_withdrawals, accepted_by=accepted_by)


class SstVerifier(MirrorVerifier):
    info = INFO
    number_label = "autorisations-ID"

    def normalize(self, number: str) -> str | None:
        return normalize_number(number)
