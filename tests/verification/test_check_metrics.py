"""Every concluded register check is counted by register and verdict (GET /metrics)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from hub.ops.metrics import Scrape
from hub.verification import records, uk_gmc
from hub.verification.base import RegistrationClaim, ResultStatus
from hub.verification.registry import make_verifiers


def _checks(db) -> dict[tuple[str, str], float]:
    text = Scrape(db.engine).exposition().decode()
    return {(s.labels["register"], s.labels["verdict"]): s.value
            for f in text_string_to_metric_families(text) if f.name == "curbside_verification_checks"
            for s in f.samples if s.name == "curbside_verification_checks_total"}


def test_checks_are_counted_by_register_and_verdict(db, fixture_path):
    uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    verifiers = make_verifiers(db)
    before = _checks(db)
    match = records.verify(db, verifiers, "doc1", RegistrationClaim("GB", "5678901", "physician", "Gareth Huw",
                                                                    "Williams"))
    unknown = records.verify(db, verifiers, "doc2", RegistrationClaim("GB", "9999999", "physician", "Ann",
                                                                      "Other"))
    assert match.status is ResultStatus.MATCH and unknown.status is ResultStatus.NO_MATCH
    after = _checks(db)
    register = match.register
    assert after[(register, "match")] == before.get((register, "match"), 0) + 1
    assert after[(register, "no_match")] == before.get((register, "no_match"), 0) + 1
