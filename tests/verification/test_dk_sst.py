"""Autorisationsregisteret extracts: dated snapshots (yyyyMMddAutDK.csv), applied only in
date order, guarded against mass withdrawal, with a dry run and an audited override."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.persistence.models.audit import AuditRecord
from hub.persistence.models.registers import RegisterImport, RegisterRecord
from hub.verification import dk_sst, records
from hub.verification.base import RegisterFileError, RegistrationClaim, ResultStatus
from hub.verification.importing import ImportRefused, WithdrawalGuard, WithdrawalsRefused
from hub.verification.registry import make_verifiers

# The published extract of 2024-01-15 (fixtures/20240115AutDK.csv), as (id, family, given, code).
BASE = [
    ("0C4KP", "Sørensen", "Søren Æbelø", "7170"),
    ("1BX2T", "Nielsen", "Mette", "7170"),
    ("2GH5D", "Andersen", "Jens Peter", "5166"),
    ("3KL7M", "Müller-Holm", "Ida", "7170"),
    ("4DF9R", "Jørgensen", "Lars", "5433"),
]


def claim(number, given, family):
    return RegistrationClaim("DK", number, "physician", given, family)


def extract(tmp_path: Path, name: str, rows, *, raw: bytes = b"") -> str:
    """An extract in the published layout: ISO-8859-15, no header, five ;-separated fields."""
    text = "".join(f"{aut};0101701234;{family};{given};{code}\n" for aut, family, given, code in rows)
    path = tmp_path / name
    path.write_bytes(text.encode("iso-8859-15") + raw)
    return str(path)


def standing(db) -> dict[str, str]:
    with db.session() as s:
        return {r.number: r.status for r in s.execute(select(RegisterRecord)).scalars()}


def test_snapshot_import_and_names(db, fixture_path):
    report = dk_sst.import_full(db, fixture_path("20240115AutDK.csv"))
    assert report.rows_changed == 5  # placeholder 09YM8 skipped
    v = dk_sst.SstVerifier(db)
    r = v.check(claim("0c4kp", "Soren Aebelo", "Sorensen"))
    assert r.status is ResultStatus.MATCH and r.evidence.country_code == "DNK"
    assert v.check(claim("3KL7M", "Ida", "Mueller-Holm")).status is ResultStatus.MATCH
    assert v.check(claim("2GH5D", "Jens Peter", "Andersen")).status is ResultStatus.NO_MATCH


def test_daily_extract_withdraws_vanished(db, fixture_path):
    dk_sst.import_full(db, fixture_path("20240115AutDK.csv"))
    report = dk_sst.apply_delta(db, fixture_path("20240116AutDK.csv"))
    assert report.became_inactive == ["1BX2T"] and report.vanished == ["1BX2T"]
    v = dk_sst.SstVerifier(db)
    assert v.check(claim("1BX2T", "Mette", "Nielsen")).status is ResultStatus.INACTIVE
    assert v.check(claim("5PQ2W", "Freja", "Hansen")).status is ResultStatus.MATCH
    again = dk_sst.apply_delta(db, fixture_path("20240116AutDK.csv"))
    assert again.skipped


def test_a_file_without_a_date_is_refused_and_changes_nothing(db, fixture_path, tmp_path):
    dk_sst.import_full(db, fixture_path("20240115AutDK.csv"))
    before = standing(db)
    for name in ("AutDK.csv", "autorisationer.csv", "20241399AutDK.csv"):
        one_line = extract(tmp_path, name, BASE[:1])
        with pytest.raises(ImportRefused) as err:
            dk_sst.apply_delta(db, one_line)
        assert name in str(err.value) and "date" in str(err.value)
    assert standing(db) == before


def test_an_extract_not_newer_than_the_last_applied_one_is_refused(db, fixture_path, tmp_path):
    dk_sst.import_full(db, fixture_path("20240115AutDK.csv"))
    dk_sst.apply_delta(db, fixture_path("20240116AutDK.csv"))
    before = standing(db)
    # The 15th again under another name (its content would bring 1BX2T back)...
    older = extract(tmp_path, "20240115AutDK.csv", BASE)
    with pytest.raises(ImportRefused, match="not after the last applied one .2024-01-16"):
        dk_sst.apply_delta(db, older)
    # ...and a second, different file for the 16th.
    same_day = extract(tmp_path, "20240116AutDK-2.csv", [*BASE, ("5PQ2W", "Hansen", "Freja", "7170")])
    with pytest.raises(ImportRefused, match="2024-01-16"):
        dk_sst.import_full(db, same_day)
    assert standing(db) == before
    # The 17th is applied.
    newer = extract(tmp_path, "20240117AutDK.csv", [*BASE, ("5PQ2W", "Hansen", "Freja", "7170")])
    assert dk_sst.apply_delta(db, newer).rows_changed == 1
    assert standing(db)["1BX2T"] == "active"


def test_the_guard_works_on_small_and_large_registers():
    guard = WithdrawalGuard()
    assert guard.allowed(5) == 3  # a small register can still lose a doctor a day
    assert guard.allowed(40) == 3  # but a one-line file cannot empty it
    assert guard.allowed(10_000) == 200
    assert guard.allowed(400_000) == 500  # and a large one never loses thousands at once


def test_a_one_line_extract_withdraws_nobody(db, fixture_path, tmp_path):
    dk_sst.import_full(db, fixture_path("20240115AutDK.csv"))
    records.verify(db, make_verifiers(db), "doc1", claim("1BX2T", "Mette", "Nielsen"))
    before = standing(db)
    one_line = extract(tmp_path, "20240116AutDK.csv", BASE[:1])
    with pytest.raises(WithdrawalsRefused) as err:
        dk_sst.apply_delta(db, one_line)
    assert "would withdraw 4 of 5 active entries" in str(err.value)
    assert err.value.plan.vanished == ["1BX2T", "2GH5D", "3KL7M", "4DF9R"]
    assert [w.doctor_id for w in err.value.plan.withdrawn] == ["doc1"]
    assert standing(db) == before
    with db.session() as s:
        assert len(records.load(s, "doc1").verified_claims()) == 1
        assert s.execute(select(func.count()).select_from(RegisterImport)
                         .where(RegisterImport.file_name == "20240116AutDK.csv")).scalar_one() == 0


def test_dry_run_lists_who_would_lose_their_claim_and_writes_nothing(db, fixture_path):
    dk_sst.import_full(db, fixture_path("20240115AutDK.csv"))
    records.verify(db, make_verifiers(db), "doc1", claim("1BX2T", "Mette", "Nielsen"))
    records.verify(db, make_verifiers(db), "doc2", claim("3KL7M", "Ida", "Müller-Holm"))
    before = standing(db)
    plan = dk_sst.apply_delta(db, fixture_path("20240116AutDK.csv"), dry_run=True)
    assert plan.dry_run and plan.vanished == ["1BX2T"]
    assert [(w.doctor_id, w.number, w.status) for w in plan.withdrawn] == [("doc1", "1BX2T", "inactive")]
    assert plan.rows_changed == 2  # 5PQ2W added, 1BX2T withdrawn
    assert standing(db) == before
    with db.session() as s:
        assert len(records.load(s, "doc1").verified_claims()) == 1
    # Nothing recorded either: the real run afterwards applies the file.
    assert dk_sst.apply_delta(db, fixture_path("20240116AutDK.csv")).became_inactive == ["1BX2T"]


def test_accepting_the_withdrawals_applies_them_and_is_audited(db, fixture_path, tmp_path):
    dk_sst.import_full(db, fixture_path("20240115AutDK.csv"))
    records.verify(db, make_verifiers(db), "doc1", claim("1BX2T", "Mette", "Nielsen"))
    shrunk = extract(tmp_path, "20240116AutDK.csv", BASE[:1])
    report = dk_sst.apply_delta(db, shrunk, accept_withdrawals=True, accepted_by="cli")
    assert report.withdrawals_accepted and report.vanished == ["1BX2T", "2GH5D", "3KL7M", "4DF9R"]
    assert [w.doctor_id for w in report.withdrawn] == ["doc1"]
    assert standing(db)["1BX2T"] == "inactive" and standing(db)["0C4KP"] == "active"
    with db.session() as s:
        audit = s.execute(select(AuditRecord).where(
            AuditRecord.event == "admin:register:withdrawals_accepted")).scalars().all()
    assert [(a.actor, json.loads(a.detail)["withdrawals"], json.loads(a.detail)["file"]) for a in audit
            ][-1:] == [("cli", 4, "20240116AutDK.csv")]


def test_authorisation_ids_follow_the_published_alphabet(db, fixture_path, tmp_path):
    dk_sst.import_full(db, fixture_path("20240115AutDK.csv"))
    before = standing(db)
    # Five characters, each a digit or a consonant (Y included): no vowels, no æ/ø/å.
    for n, bad in enumerate(("0A4KP", "1BX2E", "0C4K", "0C4KPX", "ØC4KP", "0C-KP"), start=17):
        path = extract(tmp_path, f"202401{n}AutDK.csv", [*BASE[:2], (bad, "Holm", "Ida", "7170"), *BASE[2:]])
        with pytest.raises(RegisterFileError) as err:
            dk_sst.apply_delta(db, path)
        assert err.value.line == 3, bad
    assert standing(db) == before
    assert dk_sst.normalize_number(" 0yzw9 ") == "0YZW9"
    assert dk_sst.normalize_number("0YZWA") is None


def test_malformed_lines_are_refused_with_their_line_before_anything_is_written(db, fixture_path, tmp_path):
    dk_sst.import_full(db, fixture_path("20240115AutDK.csv"))
    before = standing(db)
    cases = [
        (b"5PQ2W;0606901234;Hansen;Freja\n", 6, "expected 5 fields"),  # a field short
        (b"5PQ2W;0606901234;;Freja;7170\n", 6, "bad authorisation record"),  # no family name
        (b"5PQ2W;0606901234;Hansen;Freja;7170\n".replace(b"Hansen", "Hånsen".encode()),
         6, "UTF-8"),
        (b"5PQ2W;0606901234;Hansen;Fre\x01ja;7170\n", 6, "control characters"),
        (b"5PQ2W;0606901234;Hansen;Freja;71", 6, "truncated"),
    ]
    for n, (raw, line, words) in enumerate(cases, start=17):
        path = extract(tmp_path, f"202401{n}AutDK.csv", BASE, raw=raw)
        with pytest.raises(RegisterFileError) as err:
            dk_sst.apply_delta(db, path, batch_size=10)
        assert err.value.line == line and words in str(err.value), (raw, str(err.value))
        assert f"{path}:{line}:" in str(err.value)
    assert standing(db) == before


def test_utf8_file_is_rejected_with_line(db, fixture_path):
    with pytest.raises(RegisterFileError) as err:
        dk_sst.import_full(db, fixture_path("20240110AutDK-utf8.csv"))
    assert err.value.line == 2


def test_an_old_extract_with_content_applied_before_is_still_refused(db, fixture_path, tmp_path):
    first = extract(tmp_path, "20240115AutDK.csv", BASE)
    dk_sst.import_full(db, first)
    dk_sst.apply_delta(db, fixture_path("20240116AutDK.csv"))
    same_content = tmp_path / "20240114AutDK.csv"
    same_content.write_bytes(Path(first).read_bytes())
    with pytest.raises(ImportRefused, match="2024-01-14, not after"):
        dk_sst.apply_delta(db, str(same_content))
    assert standing(db)["1BX2T"] == "inactive"
    # The newest extract again is simply "already imported".
    assert dk_sst.apply_delta(db, fixture_path("20240116AutDK.csv")).skipped


def test_a_newer_extract_is_applied_even_with_content_seen_before(db, fixture_path, tmp_path):
    dk_sst.import_full(db, extract(tmp_path, "20240115AutDK.csv", BASE[:2]))
    dk_sst.apply_delta(db, extract(tmp_path, "20240116AutDK.csv", BASE))
    # On the 17th the register is back to the 15th's two entries: the same bytes, a new file.
    report = dk_sst.apply_delta(db, extract(tmp_path, "20240117AutDK.csv", BASE[:2]))
    assert not report.skipped and report.vanished == ["2GH5D", "3KL7M", "4DF9R"]
