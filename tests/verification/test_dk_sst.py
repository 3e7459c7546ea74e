from __future__ import annotations

import pytest

from hub.verification import dk_sst
from hub.verification.base import RegisterFileError, RegistrationClaim, ResultStatus


def claim(number, given, family):
    return RegistrationClaim("DK", number, "physician", given, family)


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
    assert report.became_inactive == ["1BX2T"]
    v = dk_sst.SstVerifier(db)
    assert v.check(claim("1BX2T", "Mette", "Nielsen")).status is ResultStatus.INACTIVE
    assert v.check(claim("5PQ2W", "Freja", "Hansen")).status is ResultStatus.MATCH
    again = dk_sst.apply_delta(db, fixture_path("20240116AutDK.csv"))
    assert again.skipped


def test_reduction_guard(db, fixture_path):
    dk_sst.import_full(db, fixture_path("20240115AutDK.csv"))
    with pytest.raises(RegisterFileError, match="refusing"):
        dk_sst.apply_delta(
            db,
            fixture_path("20240116AutDK.csv"),
            max_withdraw_absolute=0,
            max_withdraw_fraction=0.1,
        )
    v = dk_sst.SstVerifier(db)
    assert v.check(claim("1BX2T", "Mette", "Nielsen")).status is ResultStatus.MATCH


def test_utf8_file_is_rejected_with_line(db, fixture_path):
    with pytest.raises(RegisterFileError) as err:
        dk_sst.import_full(db, fixture_path("dk_utf8_wrong.csv"))
    assert err.value.line == 2
