"""Bad input on the verification page, its uploads and the register CLI: plain refusals,
nothing stored, no markup echoed, malformed register files named by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.persistence.models.registers import DoctorRegistration, RegisterRecord, ReviewDocument
from hub.verification import uk_gmc
from hub.verification.base import RegistrationClaim, ResultStatus
from tests.flows.conftest import Browser, RunningHub
from tests.verification_flows import registers as reg
from tests.verification_flows.helpers import DoctorAtHub, cli, new_doctor

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MiB = 1024 * 1024


def _registrations(hub: RunningHub, doctor: DoctorAtHub) -> int:
    with hub.hub.db.session() as s:
        return s.execute(select(func.count()).select_from(DoctorRegistration)
                         .where(DoctorRegistration.doctor_id == doctor.id)).scalar_one()


@pytest.mark.parametrize(("country", "number", "profession", "message"), [
    ("FR", "12345678901", "physician", "Choose a country"),
    ("", "12345678901", "physician", "Choose a country"),
    ("NL", "not-a-number", "physician", "That is not a valid BIG number"),
    ("GB", "12", "physician", "That is not a valid GMC reference number"),
    ("US", "1234567890", "physician", "That is not a valid NPI"),  # Luhn check digit wrong
    ("DK", "AEIOU", "physician", "That is not a valid autorisations-ID"),
    ("GB", "<script>alert(1)</script>", "physician", "That is not a valid GMC reference number"),
    ("GB", "7" * 5000, "physician", "That is not a valid GMC reference number"),
    ("GB", "1234567", "dentist", "registrations only, for now"),
])
def test_the_verification_form_refuses_bad_input(running_hub: RunningHub, country: str, number: str,
                                                 profession: str, message: str) -> None:
    doctor = new_doctor(running_hub, "Bad", "Input")
    resp = doctor.check(country, number, profession=profession)
    assert resp.status_code == 400 and message in resp.text, resp.text[:1500]
    assert "<script>alert" not in resp.text and 'role="alert"' in resp.text
    assert _registrations(running_hub, doctor) == 0


def test_form_without_csrf_oversized_or_signed_out_is_refused(running_hub: RunningHub) -> None:
    doctor = new_doctor(running_hub, "Careful", "Forms")
    assert doctor.check("GB", "1234567", csrf="forged").status_code == 400
    huge = doctor.browser.post(doctor.url, {"csrf": doctor.csrf(), "country": "GB", "number": "1" * 100_000})
    assert huge.status_code == 413
    stranger = Browser(running_hub)
    page = stranger.get(doctor.url)
    assert 'action="/login"' in page.text and "Check a registration" not in page.text
    refused = stranger.post(doctor.url, {"country": "GB", "number": "1234567"})
    assert refused.status_code == 200 and 'action="/login"' in refused.text
    assert _registrations(running_hub, doctor) == 0


def test_us_state_must_be_two_letters_and_names_are_required(running_hub: RunningHub) -> None:
    doctor = new_doctor(running_hub, "State", "Less")
    resp = doctor.check("US", reg.npi(), state="M4")
    assert resp.status_code == 400 and "two-letter code" in resp.text
    nameless = new_doctor(running_hub, "", "")
    resp = nameless.check("GB", reg.gmc_number())
    assert resp.status_code == 400 and "given and family name" in resp.text


def test_results_in_plain_words(running_hub: RunningHub, fake_registers: reg.FakeRegisters,
                                tmp_path: Path) -> None:
    restricted = reg.Person("Eva", "Dijk", reg.big_number(), prefix="van", initials="E.")
    fake_registers.big[restricted.number] = reg.big_element(restricted, measure=True)
    doctor = new_doctor(running_hub, "Eva", "van Dijk")
    page = doctor.check("NL", restricted.number)
    assert "Sent to manual review" in page.text and "Voorwaardelijke schorsing" in page.text
    unknown = doctor.check("NL", reg.big_number())
    assert "Not found" in unknown.text and "no physician&#39;s registration with number" in unknown.text
    someone = reg.Person("Gareth", "Jones", reg.gmc_number())
    assert cli(running_hub, "import", "uk-gmc", str(reg.gmc_full(tmp_path / "g.csv", [someone])),
               "--quiet").exit_code == 0
    mismatch = doctor.check("GB", someone.number)
    assert "The name does not match" in mismatch.text
    assert "Gareth" not in mismatch.text  # the register's name for someone else is not shown
    assert doctor.page().text.count("Waiting for manual review") >= 1


def test_a_registration_verified_for_another_account_is_not_verified_twice(
        running_hub: RunningHub, tmp_path: Path) -> None:
    p = reg.Person("Ada", "Twin", reg.gmc_number())
    imported = cli(running_hub, "import", "uk-gmc", str(reg.gmc_full(tmp_path / "t.csv", [p])), "--quiet")
    assert imported.exit_code == 0
    first = new_doctor(running_hub, "Ada", "Twin")
    assert "<h2>Verified</h2>" in first.check("GB", p.number).text
    second = new_doctor(running_hub, "Ada", "Twin")
    resp = second.check("GB", p.number)
    assert resp.status_code == 409 and "already verified for another Curbside account" in resp.text


def test_checks_are_throttled(running_hub: RunningHub) -> None:
    doctor = new_doctor(running_hub, "Many", "Guesses")
    statuses = [doctor.check("GB", reg.gmc_number()).status_code for _ in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429


@pytest.mark.parametrize(("name", "content", "kind", "status", "message"), [
    ("licence.pdf", b"<html><script>alert(1)</script></html>", "licence", 400, "Only PDF, PNG and JPEG"),
    ("licence.png", b"GIF89a" + b"\x00" * 100, "licence", 400, "Only PDF, PNG and JPEG"),
    ("empty.pdf", b"", "licence", 400, "The file is empty"),
    ("licence.pdf", PDF, "passport-scan", 400, "Choose what kind of document"),
    ("big.pdf", PDF + b"\x00" * (5 * MiB), "licence", 413, "larger than 5 MB"),
    ("huge.pdf", PDF + b"\x00" * (8 * MiB), "licence", 413, "larger than 5 MB"),
])
def test_uploads_are_checked(running_hub: RunningHub, name: str, content: bytes, kind: str, status: int,
                             message: str) -> None:
    doctor = new_doctor(running_hub, "Up", "Loader")
    resp = doctor.upload(kind, name, content)
    assert resp.status_code == status and message in resp.text, resp.text[:1000]
    assert "<script>alert" not in resp.text
    with running_hub.hub.db.session() as s:
        assert s.execute(select(func.count()).select_from(ReviewDocument)
                         .where(ReviewDocument.doctor_id == doctor.id)).scalar_one() == 0


def test_an_upload_is_stored_encrypted_and_can_be_removed(running_hub: RunningHub) -> None:
    doctor = new_doctor(running_hub, "Up", "Loader")
    # The browser's name and type are ignored: the content decides.
    resp = doctor.upload("badge", "badge.txt", PNG, content_type="text/plain")
    assert resp.status_code == 200 and "Document received" in resp.text
    with running_hub.hub.db.session() as s:
        doc = s.execute(select(ReviewDocument).where(ReviewDocument.doctor_id == doctor.id)).scalar_one()
        assert doc.content_type == "image/png" and doc.size == len(PNG)
        assert doc.content_enc and b"PNG" not in doc.content_enc.encode()
        assert running_hub.hub.secrets.decrypt(doc.content_enc) == PNG
        doc_id = doc.id
    other = new_doctor(running_hub, "Other", "Doctor")
    assert other.post(f"/documents/{doc_id}/delete", {}).status_code == 303
    with running_hub.hub.db.session() as s:
        assert s.get(ReviewDocument, doc_id).content_enc is not None  # not theirs to remove
    assert doctor.post(f"/documents/{doc_id}/delete", {}).status_code == 303
    with running_hub.hub.db.session() as s:
        doc = s.get(ReviewDocument, doc_id)
        assert doc.content_enc is None and doc.status == "withdrawn" and doc.deleted_at is not None
    assert "Removed by you" in doctor.page().text


def test_too_many_pending_uploads(running_hub: RunningHub) -> None:
    doctor = new_doctor(running_hub, "Paper", "Pile")
    for _ in range(5):
        assert doctor.upload("licence", "l.pdf", PDF).status_code == 200
    resp = doctor.upload("licence", "l.pdf", PDF)
    assert resp.status_code == 400 and "already have 5 documents waiting" in resp.text


def test_profession_text_and_vouching_refusals(running_hub: RunningHub) -> None:
    doctor = new_doctor(running_hub, "Plain", "Text")
    resp = doctor.post("/profession", {"profession": "<b>Surgeon</b>"})
    assert resp.status_code == 400 and "<b>Surgeon</b>" not in resp.text and "in words" in resp.text
    resp = doctor.post("/profession", {"profession": "x" * 200})
    assert resp.status_code == 400
    resp = doctor.post("/vouch", {"email": "colleague@example.org"})
    assert resp.status_code == 403 and "Only doctors whose own registration is verified" in resp.text


# -- the CLI ---------------------------------------------------------------------------------
def test_cli_reports_malformed_files_with_their_line(running_hub: RunningHub, tmp_path: Path) -> None:
    missing = tmp_path / "missing_column.csv"
    missing.write_text("GMC Ref No,Surname,Given Name\r\n1234567,A,B\r\n", encoding="utf-8")
    r = cli(running_hub, "import", "uk-gmc", str(missing), "--quiet")
    assert r.exit_code == 1 and r.output.startswith(f"error: {missing}:1:"), r.output
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)

    truncated = reg.gmc_full(tmp_path / "truncated.csv", [reg.Person("A", "B", reg.gmc_number())])
    truncated.write_bytes(truncated.read_bytes().rstrip(b"\r\n"))
    r = cli(running_hub, "import", "uk-gmc", str(truncated), "--quiet")
    assert r.exit_code == 1 and f"{truncated}:2:" in r.output, r.output

    latin = tmp_path / reg.dk_extract_name()
    # A UTF-8 file where ISO-8859-15 is expected: line 2 is the first with a non-ASCII name.
    latin.write_bytes("1BX2T;0101011234;Nielsen;Mette;7170\n2GH5D;0101011234;Sørensen;Søren;7170\n"
                      .encode())
    r = cli(running_hub, "import", "dk-sst", str(latin), "--quiet")
    assert r.exit_code == 1 and f"{latin}:2:" in r.output and "ISO-8859-15" in r.output, r.output

    xml = reg.big_mirror(tmp_path / "big.xml", [reg.Person("J.", "Berg", reg.big_number(), initials="J.")])
    xml.write_text(xml.read_text().replace("</ListHcpApprox>\n", ""), encoding="utf-8")
    r = cli(running_hub, "import", "nl-big", str(xml), "--quiet")
    assert r.exit_code == 1 and "error:" in r.output and "Traceback" not in r.output, r.output


def test_cli_keeps_committed_batches_of_a_bad_file(running_hub: RunningHub, tmp_path: Path) -> None:
    people = [reg.Person("Ann", f"Batch{i}", reg.gmc_number()) for i in range(25)]
    path = reg.gmc_full(tmp_path / "partly_bad.csv", people)
    lines = path.read_bytes().split(b"\r\n")
    lines[24] = lines[24].replace(b",W,", b",W,extra,", 1)  # line 25: one field too many
    path.write_bytes(b"\r\n".join(lines))
    r = cli(running_hub, "import", "uk-gmc", str(path), "--batch-size", "10")
    assert r.exit_code == 1 and f"{path}:25:" in r.output, r.output
    assert "uk-gmc full:" in r.output  # the progress line went to stderr
    with running_hub.hub.db.session() as s:
        kept = s.execute(select(func.count()).select_from(RegisterRecord).where(
            RegisterRecord.register == "uk-gmc",
            RegisterRecord.number.in_([p.number for p in people]))).scalar_one()
    assert kept == 20  # two whole batches committed before the bad line; nothing after
    verifier = uk_gmc.GmcVerifier(running_hub.hub.db)
    first = verifier.check(RegistrationClaim("GB", people[0].number, "physician", "Ann", "Batch0"))
    assert first.status is ResultStatus.MATCH


@pytest.mark.parametrize("args", [
    ["import", "nl-big", "{file}", "--delta"],
    ["import", "uk-gmc", "{file}", "--deactivations"],
    ["import", "uk-gmc", "{file}", "--delta", "--force"],
    ["import", "xx-reg", "{file}"],
    ["import", "uk-gmc", "{missing}"],
    ["recheck", "--older-than", "30x"],
    ["recheck", "--older-than", "-3d"],
])
def test_cli_usage_errors(running_hub: RunningHub, tmp_path: Path, args: list[str]) -> None:
    f = reg.gmc_full(tmp_path / "ok.csv", [])
    argv = [a.format(file=f, missing=tmp_path / "nope.csv") for a in args]
    r = cli(running_hub, *argv)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
