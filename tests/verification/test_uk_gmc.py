from __future__ import annotations

from hub.verification import uk_gmc
from hub.verification.base import RegistrationClaim, ResultStatus


def claim(number: str, given: str, family: str) -> RegistrationClaim:
    return RegistrationClaim("GB", number, "physician", given, family)


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
    assert v.check(claim("2345678", "Siobhan", "OBrien")).status is ResultStatus.MATCH
    assert v.check(claim("7777777", "A", "B")).status is ResultStatus.NO_MATCH


def test_delta_reports_withdrawn(db, fixture_path):
    uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    report = uk_gmc.apply_delta(db, fixture_path("gmc_delta.csv"))
    assert sorted(report.became_inactive) == ["2345678", "5678901"]
    v = uk_gmc.GmcVerifier(db)
    assert v.check(claim("6789012", "Zofia", "Nowak")).status is ResultStatus.MATCH
    assert v.check(claim("5678901", "Gareth", "Williams")).status is ResultStatus.INACTIVE
