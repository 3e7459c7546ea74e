"""GMC LRMP data files in the published layout: the licence standing each row states, the
delta in the full file's layout, and every malformed case refused with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.persistence.models.registers import RegisterRecord
from hub.verification import records, uk_gmc
from hub.verification.base import EntryStatus, RegisterFileError, RegistrationClaim, ResultStatus
from hub.verification.registry import make_verifiers
from tests.verification.lrmp import lrmp_row, lrmp_text, write_lrmp


def claim(number: str, given: str, family: str) -> RegistrationClaim:
    return RegistrationClaim("GB", number, "physician", given, family)


def standing(db) -> dict[str, tuple[str, str]]:
    with db.session() as s:
        return {r.number: (r.status, r.status_detail) for r in s.execute(select(RegisterRecord)).scalars()}


def test_the_fixture_files_have_the_published_45_columns(fixture_path):
    for name in ("gmc_full.csv", "gmc_delta.csv"):
        header = Path(fixture_path(name)).read_text("utf-8").splitlines()[0].split(",")
        assert header == list(uk_gmc.LRMP_COLUMNS) and len(header) == 45


def test_full_import_then_match(db, fixture_path):
    report = uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    assert report.rows_changed == 5 and report.lines == 6
    v = uk_gmc.GmcVerifier(db)
    r = v.check(claim("1234567", "Chidi", "Okafor"))
    assert r.status is ResultStatus.MATCH, r.reason
    assert r.evidence is not None and r.evidence.method == "mirror"
    assert r.entry is not None and r.entry.registered_since.isoformat() == "2006-08-06"
    assert v.check(claim("3456789", "Anna", "Smith-Jones")).status is ResultStatus.INACTIVE
    assert v.check(claim("4567890", "Raj", "Patel")).status is ResultStatus.INACTIVE
    siobhan = v.check(claim("2345678", "Siobhan", "OBrien"))
    assert siobhan.status is ResultStatus.MATCH and siobhan.entry.specialties == ("Cardiology",)
    assert v.check(claim("7777777", "A", "B")).status is ResultStatus.NO_MATCH


@pytest.mark.parametrize(("row", "status", "detail"), [
    (dict(), EntryStatus.ACTIVE, "Registered with Licence"),
    (dict(conditions="Y"), EntryStatus.RESTRICTED, "Registered with Licence; fitness to practise conditions"),
    (dict(undertakings="Y"), EntryStatus.RESTRICTED, "Registered with Licence; fitness to practise undertakings"),
    (dict(conditions="Y", undertakings="y"), EntryStatus.RESTRICTED,
     "Registered with Licence; fitness to practise conditions and undertakings"),
    (dict(warnings="Y"), EntryStatus.ACTIVE, "Registered with Licence"),  # a warning restricts nothing
    (dict(status="Provisionally registered with Licence", pr_date="1082025", fr_date=""),
     EntryStatus.ACTIVE, "Provisionally registered with Licence"),
    (dict(status="Provisionally registered with Licence", conditions="Y"), EntryStatus.RESTRICTED,
     "Provisionally registered with Licence; fitness to practise conditions"),
    (dict(status="Registered without a Licence"), EntryStatus.INACTIVE,
     "Registered without a Licence (not licensed to practise)"),
    (dict(status="Provisionally registered without a Licence"), EntryStatus.INACTIVE,
     "Provisionally registered without a Licence (not licensed to practise)"),
    (dict(status="Registered without a Licence", conditions="Y"), EntryStatus.INACTIVE,
     "Registered without a Licence (not licensed to practise)"),
    (dict(status="Suspended"), EntryStatus.INACTIVE, "Suspended"),
    (dict(status="Not Registered - Erased after Fitness to Practise proceedings"), EntryStatus.INACTIVE,
     "Not Registered - Erased after Fitness to Practise proceedings"),
])
def test_each_published_standing(db, tmp_path, row, status, detail):
    path = write_lrmp(tmp_path / "lrmp.csv", [lrmp_row("1000001", "Okafor", "Chidi", **row)])
    uk_gmc.import_full(db, path)
    assert standing(db)["1000001"] == (status.value, detail)
    verdict = uk_gmc.GmcVerifier(db).check(claim("1000001", "Chidi", "Okafor")).status
    expected = {EntryStatus.ACTIVE: ResultStatus.MATCH, EntryStatus.RESTRICTED: ResultStatus.RESTRICTED,
                EntryStatus.INACTIVE: ResultStatus.INACTIVE}[status]
    assert verdict is expected


def test_a_doctor_with_conditions_gets_no_clean_claim(db, tmp_path):
    path = write_lrmp(tmp_path / "lrmp.csv", [lrmp_row("1000001", "Okafor", "Chidi", conditions="Y")])
    uk_gmc.import_full(db, path)
    r = records.verify(db, make_verifiers(db), "doc1", claim("1000001", "Chidi", "Okafor"))
    assert r.status is ResultStatus.RESTRICTED and "conditions" in r.reason
    with db.session() as s:
        assert records.load(s, "doc1").verified_claims() == []


def test_an_unknown_status_fails_closed_and_is_reported_with_its_line(db, tmp_path):
    rows = [lrmp_row("1000001", "Okafor", "Chidi"),
            lrmp_row("1000002", "Nowak", "Zofia", status="Registered with Licence (temporary)")]
    report = uk_gmc.import_full(db, write_lrmp(tmp_path / "lrmp.csv", rows))
    assert standing(db)["1000002"][0] == "inactive"
    assert report.warnings == ["line 3: unknown Registration Status 'Registered with Licence (temporary)': "
                               "treated as inactive"]


def test_column_names_are_matched_without_case_and_spacing(db, tmp_path):
    # The GMC's specification spells "FtP Conditions Exist", "Given name", "Specialty1".
    header = [{"FTP Conditions Exist": "FtP Conditions Exist", "FTP Undertakings Exist": "FtP Undertakings Exist",
               "Given Name": "Given name", "Specialty 1": "Specialty1"}.get(c, c) for c in uk_gmc.LRMP_COLUMNS]
    rows = [lrmp_row("1000001", "Okafor", "Chidi", conditions="Y", specialties=("Cardiology",))]
    uk_gmc.import_full(db, write_lrmp(tmp_path / "lrmp.csv", rows, header=header))
    assert standing(db)["1000001"][0] == "restricted"
    assert uk_gmc.GmcVerifier(db).check(claim("1000001", "Chidi", "Okafor")).entry.specialties == ("Cardiology",)


def test_delta_in_the_full_layout_updates_and_adds(db, fixture_path):
    uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    report = uk_gmc.apply_delta(db, fixture_path("gmc_delta.csv"))
    assert sorted(report.became_inactive) == ["2345678", "5678901"]
    v = uk_gmc.GmcVerifier(db)
    assert v.check(claim("6789012", "Zofia", "Nowak")).status is ResultStatus.MATCH
    assert v.check(claim("5678901", "Gareth", "Williams")).status is ResultStatus.INACTIVE
    # Rows a delta does not list are unchanged: a delta is not a snapshot.
    assert v.check(claim("1234567", "Chidi", "Okafor")).status is ResultStatus.MATCH
    assert standing(db)["3456789"][0] == "inactive" and standing(db)["4567890"][0] == "inactive"


def test_a_delta_that_adds_conditions_restricts_and_withdraws_the_verified_claim(db, fixture_path, tmp_path):
    uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    gareth = claim("5678901", "Gareth Huw", "Williams")
    assert records.verify(db, make_verifiers(db), "doc1", gareth).status is ResultStatus.MATCH
    delta = write_lrmp(tmp_path / "delta.csv", [
        lrmp_row("5678901", "Williams", "Gareth", other="Huw", fr_date="1081991", undertakings="Y",
                 specialist_date="1011999", specialties=("General surgery",))])
    report = uk_gmc.apply_delta(db, delta)
    assert report.became_restricted == ["5678901"]
    assert [(w.doctor_id, w.status) for w in report.withdrawn] == [("doc1", "restricted")]
    with db.session() as s:
        assert records.load(s, "doc1").verified_claims() == []


def test_a_change_type_column_is_honoured(db, fixture_path, tmp_path):
    uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    rows = [lrmp_row("1234567", "Okafor", "Chidi", other="Emeka"), lrmp_row("7000001", "Hale", "Iris")]
    delta = tmp_path / "delta.csv"
    delta.write_text(lrmp_text(rows, change_types=["D", "A"]), encoding="utf-8")
    report = uk_gmc.apply_delta(db, str(delta))
    assert report.became_inactive == ["1234567"]
    assert standing(db)["1234567"] == ("inactive", "removed from the medical register")
    assert standing(db)["7000001"][0] == "active"
    bad = tmp_path / "bad.csv"
    bad.write_text(lrmp_text(rows, change_types=["U", "X"]), encoding="utf-8")
    with pytest.raises(RegisterFileError) as err:
        uk_gmc.apply_delta(db, str(bad))
    assert err.value.line == 3 and "Change Type 'X'" in str(err.value)


@pytest.mark.parametrize(("mangle", "line", "words"), [
    (lambda rows: rows.__setitem__(1, lrmp_row("1000002", "B", "C", conditions="maybe")), 3,
     "FTP Conditions Exist must be Y or N"),
    (lambda rows: rows.__setitem__(1, lrmp_row("1000002", "B", "C", warnings="1")), 3,
     "FTP Warnings Exist must be Y or N"),
    (lambda rows: rows.__setitem__(2, lrmp_row("12345", "B", "C")), 4, "bad GMC reference number"),
    (lambda rows: rows.__setitem__(1, lrmp_row("1000002", "", "C")), 3, "empty Surname"),
    (lambda rows: rows.__setitem__(1, lrmp_row("1000002", "B", "C", fr_date="31132001")), 3, "bad date"),
    (lambda rows: rows.__setitem__(2, lrmp_row("1000003", "B", "C")[:44]), 4, "expected 45 fields, found 44"),
])
def test_malformed_rows_are_refused_with_their_line_and_nothing_imported_is_lost(
        db, fixture_path, tmp_path, mangle, line, words):
    uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    before = standing(db)
    rows = [lrmp_row(f"100000{n}", f"Surname{n}", "Given") for n in range(1, 4)]
    mangle(rows)
    path = write_lrmp(tmp_path / "delta.csv", rows)
    with pytest.raises(RegisterFileError) as err:
        uk_gmc.apply_delta(db, path, batch_size=10)
    assert err.value.line == line and words in str(err.value), str(err.value)
    assert f"{path}:{line}:" in str(err.value)
    assert standing(db) == before


@pytest.mark.parametrize("missing", ["FTP Conditions Exist", "FTP Undertakings Exist", "Registration Status"])
def test_a_file_without_the_columns_of_the_verdict_is_refused_at_line_1(db, fixture_path, tmp_path, missing):
    uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    before = standing(db)
    header = [c for c in uk_gmc.LRMP_COLUMNS if c != missing]
    at = list(uk_gmc.LRMP_COLUMNS).index(missing)
    row = lrmp_row("1000001", "Okafor", "Chidi")
    path = write_lrmp(tmp_path / "old.csv", [row[:at] + row[at + 1:]], header=header)
    with pytest.raises(RegisterFileError) as err:
        uk_gmc.apply_delta(db, path)
    assert err.value.line == 1 and missing in str(err.value)
    assert standing(db) == before


def test_a_delta_dry_run_names_who_would_lose_the_claim_and_writes_nothing(db, fixture_path):
    uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    records.verify(db, make_verifiers(db), "doc1", claim("5678901", "Gareth Huw", "Williams"))
    before = standing(db)
    plan = uk_gmc.apply_delta(db, fixture_path("gmc_delta.csv"), dry_run=True)
    assert plan.dry_run and sorted(plan.became_inactive) == ["2345678", "5678901"]
    assert [(w.doctor_id, w.number, w.status) for w in plan.withdrawn] == [("doc1", "5678901", "inactive")]
    assert standing(db) == before
    with db.session() as s:
        assert len(records.load(s, "doc1").verified_claims()) == 1
    assert not uk_gmc.apply_delta(db, fixture_path("gmc_delta.csv")).skipped  # nothing was recorded
