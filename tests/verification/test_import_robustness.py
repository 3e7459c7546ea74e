"""Malformed files, resumable and idempotent imports (GMC format; the driver is shared)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.persistence.models.registers import RegisterImport, RegisterRecord
from hub.verification import uk_gmc
from hub.verification.base import RegisterFileError
from tests.verification.lrmp import lrmp_row, lrmp_text

HEADER = lrmp_text([]).replace("\r\n", "\n")
_AT = {name: i for i, name in enumerate(uk_gmc.LRMP_COLUMNS)}


def row(n: int, status: str = "Registered with Licence", **columns: str) -> str:
    """One line of the published layout (45 columns)."""
    return ",".join(lrmp_row(str(1000000 + n), f"Surname{n}", f"Given{n}", status=status, **columns)) + "\n"


def cells(**values: str) -> str:
    """A row given column by column (the rest empty), for malformed values."""
    out = [""] * len(_AT)
    for name, value in values.items():
        out[_AT[name.replace("_", " ")]] = value
    return ",".join(out) + "\n"


def write(tmp_path: Path, text: str | bytes, name: str = "lrmp.csv") -> str:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(p)


def count(db) -> int:
    with db.session() as s:
        return s.execute(select(func.count()).select_from(RegisterRecord)).scalar_one()


def test_missing_column_refuses_before_touching_data(db, tmp_path):
    uk_gmc.import_full(db, write(tmp_path, HEADER + row(1), "ok.csv"))
    bad = HEADER.replace("Registration Status", "Status") + row(2)
    with pytest.raises(RegisterFileError) as err:
        uk_gmc.import_full(db, write(tmp_path, bad))
    assert err.value.line == 1 and "Registration Status" in str(err.value)
    assert count(db) == 1


def test_wrong_field_count_names_line_and_keeps_earlier_batches(db, tmp_path):
    text = HEADER + row(1) + row(2) + row(3) + "1000004,Short,Row\n" + row(5)
    with pytest.raises(RegisterFileError) as err:
        uk_gmc.import_full(db, write(tmp_path, text), batch_size=2)
    assert err.value.line == 5
    assert count(db) == 2  # rows 1-2 committed; the batch holding row 3 was not
    with db.session() as s:
        imp = s.execute(select(RegisterImport)).scalar_one()
        assert imp.status == "failed" and imp.last_line == 3 and "5" in imp.error


def test_bad_encoding_names_line(db, tmp_path):
    text = (HEADER + row(1)).encode() + row(2).replace("Surname2", "Müller").encode("latin-1")
    with pytest.raises(RegisterFileError) as err:
        uk_gmc.import_full(db, write(tmp_path, text))
    assert err.value.line == 3 and "utf-8" in str(err.value)


def test_truncated_last_line(db, tmp_path):
    text = HEADER + row(1) + row(2) + row(3)[:-12]
    with pytest.raises(RegisterFileError) as err:
        uk_gmc.import_full(db, write(tmp_path, text), batch_size=1)
    assert err.value.line == 4 and "truncated" in str(err.value)
    assert count(db) == 1


def test_unterminated_quote_and_bad_values(db, tmp_path):
    with pytest.raises(RegisterFileError) as err:
        uk_gmc.import_full(db, write(tmp_path, HEADER + row(1) + row(2).replace("Surname2", '"Open')))
    assert err.value.line == 3
    with pytest.raises(RegisterFileError) as err:
        uk_gmc.import_full(db, write(tmp_path, HEADER + cells(GMC_Ref_No="12", Surname="X"), "n.csv"))
    assert err.value.line == 2 and "reference number" in str(err.value)
    with pytest.raises(RegisterFileError) as err:
        uk_gmc.import_full(db, write(tmp_path, HEADER + row(1, fr_date="31132001"), "d.csv"))
    assert "bad date" in str(err.value)


class Crash(Exception):
    pass


def test_resume_after_interruption(db, tmp_path):
    path = write(tmp_path, HEADER + "".join(row(n) for n in range(1, 11)))
    batches = []

    def crash_after_two(progress):
        batches.append(progress.line)
        if len(batches) == 2:
            raise Crash

    with pytest.raises(Crash):
        uk_gmc.import_full(db, path, batch_size=3, progress=crash_after_two)
    assert count(db) == 6
    report = uk_gmc.import_full(db, path, batch_size=3)
    assert report.resumed_from == 7 and report.rows_changed == 4 and count(db) == 10
    assert uk_gmc.import_full(db, path).skipped


def test_reimport_changes_nothing(db, tmp_path):
    path = write(tmp_path, HEADER + "".join(row(n) for n in range(1, 6)))
    uk_gmc.import_full(db, path)
    with db.session() as s:
        before = {r.number: (r.updated_at, r.row_hash) for r in s.execute(select(RegisterRecord)).scalars()}
    again = uk_gmc.import_full(db, path, force=True)
    assert again.rows_changed == 0
    copy = uk_gmc.import_full(
        db, write(tmp_path, HEADER + "".join(row(n) for n in range(1, 6)) + "\n", "copy.csv")
    )
    assert copy.rows_changed == 0 and not copy.skipped
    with db.session() as s:
        after = {r.number: (r.updated_at, r.row_hash) for r in s.execute(select(RegisterRecord)).scalars()}
    assert after == before


def test_progress_reports_bytes(db, tmp_path):
    path = write(tmp_path, HEADER + "".join(row(n) for n in range(1, 8)))
    seen = []
    uk_gmc.import_full(db, path, batch_size=2, progress=seen.append)
    assert seen[-1].bytes_read == seen[-1].total_bytes and seen[-1].rows_changed == 7
