"""NPPES read exactly as CMS publishes it: the monthly file (330 columns), its deactivated
stubs, the Deactivated NPI Report as an xlsx workbook (title row, then header) and as its
CSV export, and the NPI Registry API 2.1 answers, including HTTP 200 ``Errors`` numbered
15 for a deactivated NPI. The live API is a local HTTP server reached through
CURBSIDE_NPPES_API_URL."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hub.persistence.models.registers import DoctorRegistration, RegisterImport
from hub.settings import Settings, SettingsError
from hub.verification import mirror, records, registry, us_nppes
from hub.verification.base import RegisterFileError, RegistrationClaim, ResultStatus
from hub.verification.claims import PersonEvidence
from hub.verification.cli import registers
from hub.verification.vocabulary import REGISTER_MATCH
from tests.verification import published as pub
from tests.verification_flows.registers import FakeRegisters, Person, npi, nppes_api_item


@pytest.fixture(autouse=True)
def _clean_fake(fake: FakeRegisters) -> Iterator[None]:
    yield
    fake.reset()
    for answers in (fake.nppes, fake.raw):
        answers.clear()
    fake.deactivated.clear()


def claim(number: str, given: str, family: str, state: str | None = None) -> RegistrationClaim:
    return RegistrationClaim("US", number, "physician", given, family, jurisdiction=state)


def nppes(db, fake):  # the hub's NPPES verifier, configured through the settings
    return pub.live_verifiers(db, fake)["us-nppes"]


def mirror_status(db, fake, number: str, given: str, family: str):
    return nppes(db, fake).check_mirror(claim(number, given, family), number)


def in_mirror(db, number: str) -> bool:
    with db.session() as s:
        return mirror.lookup(s, "us-nppes", number) is not None


# -- the monthly file ---------------------------------------------------------------------


def test_a_row_without_entity_type_code_is_a_deactivation_even_of_an_npi_never_seen(db, fake, tmp_path):
    jane, john, unseen = npi(), npi(), npi()
    us_nppes.import_full(db, str(pub.nppes_monthly(tmp_path / "october.csv", [
        pub.nppes_physician(jane, "Jane", "Roe"), pub.nppes_physician(john, "John", "Doe")])))
    report = us_nppes.import_full(db, str(pub.nppes_monthly(tmp_path / "november.csv", [
        pub.nppes_deactivated_row(jane, "11/15/2024"), pub.nppes_physician(john, "John", "Doe"),
        pub.nppes_deactivated_row(unseen, "11/20/2024")])))
    assert report.became_inactive == [jane]
    r = mirror_status(db, fake, jane, "Jane", "Roe")
    assert r.status is ResultStatus.INACTIVE and "2024-11-15" in r.reason
    # The stub takes the standing, not the names: a wrong name still learns nothing.
    assert mirror_status(db, fake, jane, "Mary", "Major").status is ResultStatus.NAME_MISMATCH
    assert mirror_status(db, fake, john, "John", "Doe").status is ResultStatus.MATCH
    r = mirror_status(db, fake, unseen, "Any", "One")
    assert r.status is ResultStatus.INACTIVE and "2024-11-20" in r.reason


@pytest.mark.parametrize(
    ("deactivated", "reactivated", "status"),
    [
        ("03/01/2020", "", ResultStatus.INACTIVE),
        ("03/01/2020", "04/01/2020", ResultStatus.MATCH),  # reactivated later
        ("03/01/2020", "02/01/2020", ResultStatus.INACTIVE),  # reactivated before the deactivation
        ("03/01/2020", "03/01/2020", ResultStatus.INACTIVE),  # not later
        ("", "", ResultStatus.MATCH),
    ],
)
def test_a_deactivation_date_without_a_later_reactivation_is_inactive(db, fake, tmp_path, deactivated,
                                                                       reactivated, status):
    n = npi()
    us_nppes.import_full(db, str(pub.nppes_monthly(tmp_path / "m.csv", [
        pub.nppes_physician(n, "Ada", "Park", deactivated=deactivated, reactivated=reactivated)])))
    assert mirror_status(db, fake, n, "Ada", "Park").status is status


def test_the_report_does_not_undo_a_later_reactivation(db, fake, tmp_path):
    n = npi()
    us_nppes.import_full(db, str(pub.nppes_monthly(tmp_path / "m.csv", [
        pub.nppes_physician(n, "Ada", "Park", deactivated="03/01/2020", reactivated="04/01/2020")])))
    us_nppes.apply_deactivations(db, str(pub.deactivation_report_xlsx(tmp_path / "old.xlsx", [[n, "03/01/2020"]])))
    assert mirror_status(db, fake, n, "Ada", "Park").status is ResultStatus.MATCH
    us_nppes.apply_deactivations(db, str(pub.deactivation_report_xlsx(tmp_path / "new.xlsx", [[n, "05/01/2021"]])))
    r = mirror_status(db, fake, n, "Ada", "Park")
    assert r.status is ResultStatus.INACTIVE and "2021-05-01" in r.reason


def _monthly_rows(count: int) -> list[dict[str, str]]:
    return [pub.nppes_physician(npi(), "Row", f"Number{i}") for i in range(count)]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"NPI": "PLACEHOLDER", "NPI Deactivation Date": ""}, "without Entity Type Code nor NPI Deactivation Date"),
        ({"Entity Type Code": "3"}, "bad Entity Type Code '3'"),
        ({"NPI Reactivation Date": "2024-13-45"}, "bad date"),
        ({"NPI": "1234567890"}, "bad NPI"),  # check digit
    ],
)
def test_a_malformed_monthly_row_is_refused_by_line_and_nothing_imported_is_lost(db, fake, tmp_path, bad,
                                                                                 message):
    kept = npi()
    us_nppes.import_full(db, str(pub.nppes_monthly(tmp_path / "before.csv", [pub.nppes_physician(kept, "Kim", "Lee")])))
    rows = _monthly_rows(12)
    broken = dict(pub.nppes_physician(npi(), "Bad", "Row"), **bad)
    if broken["NPI"] == "PLACEHOLDER":
        broken = {"NPI": npi()}  # a stub row that lost its date
    path = pub.nppes_monthly(tmp_path / "monthly.csv", [*rows, broken, *_monthly_rows(3)])
    with pytest.raises(RegisterFileError) as exc:
        us_nppes.import_full(db, str(path), batch_size=10)
    assert exc.value.line == 14 and message in str(exc.value)  # header + 12 rows + this one
    assert mirror_status(db, fake, kept, "Kim", "Lee").status is ResultStatus.MATCH
    # The batch committed before the bad row stays; the failing batch wrote nothing.
    first = rows[0]
    assert mirror_status(db, fake, first["NPI"], "Row", "Number0").status is ResultStatus.MATCH
    assert not in_mirror(db, rows[11]["NPI"])


def test_a_monthly_row_with_a_missing_field_is_refused(db, fake, tmp_path):
    row = [v for v in pub.nppes_physician(npi(), "A", "B").values()][:5]
    path = pub.nppes_monthly(tmp_path / "m.csv", [pub.nppes_physician(npi(), "Ok", "Row"), row])
    with pytest.raises(RegisterFileError) as exc:
        us_nppes.import_full(db, str(path))
    assert exc.value.line == 3 and "expected 330 fields, found 5" in str(exc.value)


# -- the Deactivated NPI Report ---------------------------------------------------------------


def _verified(db, fake, doctor: str, person: Person) -> None:
    fake.nppes[person.number] = nppes_api_item(person)
    result = records.verify(db, pub.live_verifiers(db, fake), doctor, claim(person.number, person.given,
                                                                             person.family))
    assert result.status is ResultStatus.MATCH, result.reason


def test_the_report_is_imported_from_the_xlsx_as_published(db, fake, tmp_path):
    verified = Person("Grace", "Hopper", npi())
    _verified(db, fake, "doc1", verified)
    monthly_only, unseen = npi(), npi()
    us_nppes.import_full(db, str(pub.nppes_monthly(tmp_path / "m.csv", [pub.nppes_physician(monthly_only, "Lin", "Ma")])))
    path = pub.deactivation_report_xlsx(tmp_path / "NPPES Deactivated NPI Report 20241209.xlsx", [
        [int(verified.number), "11/15/2024"],  # NPI as a number cell, date as text (as published)
        [monthly_only, datetime(2024, 11, 18)],  # NPI as text, date as a date cell
        [float(unseen), "11/20/2024"],
    ])
    report = us_nppes.apply_deactivations(db, str(path))
    assert sorted(report.became_inactive) == sorted([verified.number, monthly_only])
    assert [(w.doctor_id, w.number) for w in report.withdrawn] == [("doc1", verified.number)]
    assert report.lines == 5  # title, header, three NPIs
    for number, given, family, day in ((verified.number, "Grace", "Hopper", "2024-11-15"),
                                       (monthly_only, "Lin", "Ma", "2024-11-18"),
                                       (unseen, "Who", "Ever", "2024-11-20")):
        r = mirror_status(db, fake, number, given, family)
        assert r.status is ResultStatus.INACTIVE and day in r.reason, (number, r.reason)
    with db.session() as s:
        reg = s.execute(select(DoctorRegistration).where(DoctorRegistration.doctor_id == "doc1")).scalar_one()
        assert reg.status == "inactive" and reg.withdrawn_at is not None


@pytest.mark.parametrize("title", [True, False])
def test_the_report_is_imported_from_its_csv_export(db, fake, tmp_path, title):
    known, unseen = npi(), npi()
    us_nppes.import_full(db, str(pub.nppes_monthly(tmp_path / "m.csv", [pub.nppes_physician(known, "Lin", "Ma")])))
    path = pub.deactivation_report_csv(tmp_path / "report.csv", [[known, "11/15/2024"], [unseen, "11/20/2024"]],
                                       title=title)
    assert us_nppes.apply_deactivations(db, str(path)).became_inactive == [known]
    assert mirror_status(db, fake, unseen, "X", "Y").status is ResultStatus.INACTIVE


def _good_report_rows(count: int) -> list[list[object]]:
    return [[npi(), "11/15/2024"] for _ in range(count)]


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (["1234567890", "11/15/2024"], "bad NPI '1234567890'"),
        (["12345", "11/15/2024"], "bad NPI"),
        ([True, "11/15/2024"], "bad NPI"),
        (["GOOD", None], "empty or bad NPPES Deactivation Date"),
        (["GOOD", "15/11/2024"], "bad date '15/11/2024'"),
        (["GOOD", 45000], "empty or bad NPPES Deactivation Date"),
        (["GOOD", "11/15/2024", "extra"], "expected 2 fields, found 3"),
    ],
)
def test_a_malformed_report_row_is_refused_by_its_row_number(db, fake, tmp_path, bad_row, message):
    kept = npi()
    us_nppes.import_full(db, str(pub.nppes_monthly(tmp_path / "m.csv", [pub.nppes_physician(kept, "Kim", "Lee")])))
    good = _good_report_rows(12)
    bad = [npi() if v == "GOOD" else v for v in bad_row]
    path = pub.deactivation_report_xlsx(tmp_path / "report.xlsx", [*good, bad, *_good_report_rows(2)])
    with pytest.raises(RegisterFileError) as exc:
        us_nppes.apply_deactivations(db, str(path), batch_size=10)
    assert exc.value.line == 15, str(exc.value)  # title, header, 12 rows, then this one
    assert message in str(exc.value) and "report.xlsx:15:" in str(exc.value)
    # Nothing already imported is lost; the first full batch of the report was committed.
    assert mirror_status(db, fake, kept, "Kim", "Lee").status is ResultStatus.MATCH
    assert mirror_status(db, fake, str(good[0][0]), "A", "B").status is ResultStatus.INACTIVE
    assert not in_mirror(db, str(good[11][0]))
    with db.session() as s:
        assert s.execute(select(RegisterImport.status).where(RegisterImport.kind == "deactivations")).scalar() \
            == "failed"


@pytest.mark.parametrize(
    ("make", "line", "message"),
    [
        (lambda p: pub.deactivation_report_xlsx(p, [[npi(), "11/15/2024"]], header=("NPI", "Deactivation Date")),
         2, "missing columns: NPPES Deactivation Date"),
        (lambda p: pub.deactivation_report_xlsx(p, [[npi(), "11/15/2024"]], title="Monthly summary"),
         1, "expected the title 'NPPES Deactivated NPI Report'"),
        (lambda p: p.write_bytes(b"PK\x03\x04" + b"\x00" * 200) and p, 1, "not a readable xlsx workbook"),
        (lambda p: _truncated_xlsx(p), 1, "not a readable xlsx workbook"),
        (lambda p: _with_sheet(p, lambda xml: xml[: len(xml) // 2]), None, "damaged xlsx workbook"),
        (lambda p: _with_sheet(p, lambda xml: _DTD_SHEET), 1, "not a readable xlsx workbook"),  # defusedxml
    ],
)
def test_a_malformed_report_workbook_is_refused(db, fake, tmp_path, make, line, message):
    kept = npi()
    us_nppes.import_full(db, str(pub.nppes_monthly(tmp_path / "m.csv", [pub.nppes_physician(kept, "Kim", "Lee")])))
    path = tmp_path / "report.xlsx"
    make(path)
    with pytest.raises(RegisterFileError) as exc:
        us_nppes.apply_deactivations(db, str(path))
    assert exc.value.line == line if line else exc.value.line > 2  # a row cut in the middle
    assert message in str(exc.value), str(exc.value)
    assert mirror_status(db, fake, kept, "Kim", "Lee").status is ResultStatus.MATCH


_DTD_SHEET = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet xmlns="http://schemas.'
              b'openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
              b"<t>&a;</t></is></c></row></sheetData></worksheet>")


def _with_sheet(path: Path, change) -> Path:
    """A well-formed zip whose worksheet XML is cut short or carries entity declarations."""
    whole = pub.deactivation_report_xlsx(path, _good_report_rows(30))
    with zipfile.ZipFile(whole) as z:
        members = {name: z.read(name) for name in z.namelist()}
    sheet = next(name for name in members if name.startswith("xl/worksheets/"))
    members[sheet] = change(members[sheet])
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _truncated_xlsx(path: Path) -> Path:
    whole = pub.deactivation_report_xlsx(path, _good_report_rows(50)).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    return path


def test_a_malformed_report_csv_export_is_refused_by_line(db, fake, tmp_path):
    path = pub.deactivation_report_csv(tmp_path / "r.csv", [[npi(), "11/15/2024"], ["12345", "11/15/2024"]])
    with pytest.raises(RegisterFileError) as exc:
        us_nppes.apply_deactivations(db, str(path))
    assert exc.value.line == 4 and "bad NPI '12345'" in str(exc.value)
    cut = tmp_path / "cut.csv"
    cut.write_bytes(path.read_bytes()[:-3])  # a download cut short mid-line
    with pytest.raises(RegisterFileError) as exc:
        us_nppes.apply_deactivations(db, str(cut))
    assert exc.value.line == 4 and "truncated" in str(exc.value)


def test_the_cli_imports_the_xlsx_report_and_names_the_bad_row(db, fake, tmp_path):
    hub = SimpleNamespace(db=db)
    good = pub.deactivation_report_xlsx(tmp_path / "good.xlsx", _good_report_rows(3))
    r = CliRunner().invoke(registers, ["import", "us-nppes", str(good), "--deactivations", "--quiet"],
                           obj=SimpleNamespace(hub=hub))
    assert r.exit_code == 0 and "us-nppes deactivations: 5 lines" in r.output, r.output
    bad = pub.deactivation_report_xlsx(tmp_path / "bad.xlsx", [*_good_report_rows(2), ["12345", "11/15/2024"]])
    r = CliRunner().invoke(registers, ["import", "us-nppes", str(bad), "--deactivations", "--quiet"],
                           obj=SimpleNamespace(hub=hub))
    assert r.exit_code == 1 and f"error: {bad}:5: bad NPI '12345'" in r.output
    assert "Traceback" not in r.output


# -- the NPI Registry API -----------------------------------------------------------------------


def test_an_api_deactivation_is_inactive_and_never_opens_the_breaker(db, fake):
    verifier = nppes(db, fake)
    threshold = verifier.breaker.failure_threshold
    deactivated = npi()
    fake.deactivated.add(deactivated)
    for _ in range(threshold + 2):
        r = verifier.check(claim(deactivated, "Some", "One"))
        assert r.status is ResultStatus.INACTIVE and "deactivated" in r.reason
    assert verifier.breaker.state == "closed"
    active = Person("Rosa", "Lind", npi())
    fake.nppes[active.number] = nppes_api_item(active)
    calls = fake.calls
    r = verifier.check(claim(active.number, "Rosa", "Lind"))
    assert r.status is ResultStatus.MATCH and r.evidence.method == "live" and fake.calls == calls + 1
    # Whereas other Errors answers are an outage: they do count.
    for _ in range(threshold):
        broken = npi()
        fake.raw[broken] = json.dumps({"Errors": [{"description": "No valid search criteria",
                                                   "field": "", "number": "04"}]}).encode()
        assert verifier.check(claim(broken, "Some", "One")).status is ResultStatus.UNAVAILABLE
    assert verifier.breaker.state == "open"


def test_an_api_deactivation_withdraws_a_verified_npi_and_keeps_its_names(db, fake):
    p = Person("Grace", "Hopper", npi())
    _verified(db, fake, "doc2", p)
    fake.deactivated.add(p.number)
    r = records.verify(db, pub.live_verifiers(db, fake), "doc2", claim(p.number, "Grace", "Hopper"))
    assert r.status is ResultStatus.INACTIVE and r.evidence.method == "live"
    with db.session() as s:
        reg = s.execute(select(DoctorRegistration).where(DoctorRegistration.doctor_id == "doc2")).scalar_one()
        assert reg.status == "inactive" and reg.withdrawn_at is not None
    # The mirror keeps the names with the new standing (for outages, and for the order
    # of judgement: a wrong name learns nothing).
    fake.down.add("nppes")
    assert nppes(db, fake).check(claim(p.number, "Grace", "Hopper")).status is ResultStatus.INACTIVE
    assert nppes(db, fake).check(claim(p.number, "Alan", "Turing")).status is ResultStatus.NAME_MISMATCH


@pytest.mark.parametrize(
    "body",
    [
        b'{"Errors": [{"description": "No valid search criteria", "field": "", "number": "04"}]}',
        b'{"Errors": [{"number": "15"}, {"number": "04"}]}',
        b'{"Errors": []}',
        b"<html>Service temporarily unavailable</html>",
        b'{"result_count": 0}',
        b"[]",
        b'{"result_count": 1, "results": [{"enumeration_type": "NPI-1"}]}',
    ],
)
def test_other_api_errors_and_broken_answers_are_unavailable_never_not_found(db, fake, tmp_path, body):
    # The mirror is loaded, with someone else: absence from it proves nothing.
    us_nppes.import_full(db, str(pub.nppes_monthly(tmp_path / "m.csv", [pub.nppes_physician(npi(), "A", "B")])))
    number = npi()
    fake.raw[number] = body
    r = nppes(db, fake).check(claim(number, "Rosa", "Lind"))
    assert r.status is ResultStatus.UNAVAILABLE, r.reason


def test_nppes_evidence_never_exceeds_register_match_nor_becomes_restricted(db, fake):
    p = Person("Grace", "Hopper", npi())
    _verified(db, fake, "doc3", p)
    with db.session() as s:
        records.add_identity_evidence(
            s, "doc3", PersonEvidence("document", {"document_details": {"type": "passport"}}, "Grace", "Hopper"),
            recorded_by="admin")
    with db.session() as s:
        element = records.load(s, "doc3").verified_claims()[0]
    assert element["verification"]["assurance_level"] == REGISTER_MATCH
    record = element["verification"]["evidence"][0]
    assert record["check_details"][0]["check_id"].endswith("licence-self-reported")
    # NPPES enumerates; it knows nothing of board measures: any non-active status is inactive.
    d = Person("Dee", "Status", npi())
    fake.nppes[d.number] = nppes_api_item(d, status="D")
    assert nppes(db, fake).check(claim(d.number, "Dee", "Status")).status is ResultStatus.INACTIVE


# -- names: honorifics, suffixes and NPPES's prefix and suffix fields ---------------------------


@pytest.mark.parametrize(
    ("given", "family", "status", "released"),
    [
        ("John", "Smith Jr.", ResultStatus.MATCH, ("John", "Smith")),
        ("Dr. John", "Smith", ResultStatus.MATCH, ("John", "Smith")),
        ("John", "Smith, Jr", ResultStatus.MATCH, ("John", "Smith")),
        ("John", "Smith", ResultStatus.MATCH, ("John", "Smith")),
        ("John", "Smith Sr.", ResultStatus.NEEDS_REVIEW, None),  # the father's NPI?
    ],
)
def test_the_monthly_files_prefix_and_suffix_fields_are_no_names(db, fake, tmp_path, given, family, status,
                                                                  released):
    n = npi()
    us_nppes.import_full(db, str(pub.nppes_monthly(tmp_path / "m.csv", [
        pub.nppes_physician(n, "John", "Smith", prefix="DR.", suffix="JR.")])))
    fake.down.add("nppes")
    r = nppes(db, fake).check(claim(n, given, family))
    assert r.status is status, r.reason
    if released:
        assert (r.verified_given_name, r.verified_family_name) == released


def test_the_apis_suffix_field_is_no_name(db, fake):
    p = Person("John", "Smith", npi())
    item = nppes_api_item(p)
    item["basic"].update(name_prefix="Dr.", name_suffix="III")
    fake.nppes[p.number] = item
    r = nppes(db, fake).check(claim(p.number, "Dr. John", "Smith III"))
    assert r.status is ResultStatus.MATCH and r.verified_family_name == "Smith", r.reason


# -- the endpoint is a setting ------------------------------------------------------------------


def test_the_api_url_is_a_setting_and_must_be_https():
    env = {"CURBSIDE_ISSUER": "https://id.curbside.example"}
    s = Settings.from_env({**env, "CURBSIDE_NPPES_API_URL": "https://npiregistry.example.org/api/"})
    assert registry.make_verifiers(None, settings=s)["us-nppes"].api_url == "https://npiregistry.example.org/api/"
    assert registry.make_verifiers(None, settings=Settings.from_env(env))["us-nppes"].api_url == us_nppes.API_URL
    with pytest.raises(SettingsError, match="CURBSIDE_NPPES_API_URL must be an https URL"):
        Settings.from_env({**env, "CURBSIDE_NPPES_API_URL": "http://npiregistry.example.org/api/"})


def test_report_dates_read_from_both_cell_kinds():
    assert us_nppes._report_date(datetime(2024, 11, 18, 0, 0), 3, "r") == date(2024, 11, 18)
    assert us_nppes._report_date("11/18/2024", 3, "r") == date(2024, 11, 18)
