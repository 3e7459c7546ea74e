from __future__ import annotations

from datetime import timedelta

import requests
import responses

from hub.persistence.db import utcnow
from hub.verification import nl_big, recheck, records, uk_gmc
from hub.verification.base import RegistrationClaim, ResultStatus
from hub.verification.claims import PersonEvidence
from hub.verification.registry import make_verifiers
from hub.verification.schemas import validate_verified_claims
from hub.verification.vocabulary import REGISTER_AND_ID, REGISTRATIONS_CLAIM


def gmc_claim(number="5678901", given="Gareth Huw", family="Williams"):
    return RegistrationClaim("GB", number, "physician", given, family)


def test_verify_store_and_release(db, fixture_path):
    uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    verifiers = make_verifiers(db)
    result = records.verify(db, verifiers, "doc1", gmc_claim())
    assert result.status is ResultStatus.MATCH
    with db.session() as s:
        records.add_identity_evidence(
            s,
            "doc1",
            PersonEvidence("document", {"document_details": {"type": "idcard"}}, "Gareth", "Williams"),
            recorded_by="admin",
        )
    with db.session() as s:
        doctor = records.load(s, "doc1")
    out = doctor.release(
        {
            "verification": {"trust_framework": None, "assurance_level": None},
            "claims": {"given_name": None, REGISTRATIONS_CLAIM: None},
        }
    )
    validate_verified_claims(out)
    assert out["verification"]["assurance_level"] == REGISTER_AND_ID
    assert out["claims"]["given_name"] == "Gareth Huw"
    assert out["claims"][REGISTRATIONS_CLAIM][0]["specialties"] == ["General surgery"]


def test_withdrawn_licence_via_delta(db, fixture_path):
    uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    records.verify(db, make_verifiers(db), "doc1", gmc_claim())
    report = uk_gmc.apply_delta(db, fixture_path("gmc_delta.csv"))
    assert [(w.doctor_id, w.number, w.status) for w in report.withdrawn] == [("doc1", "5678901", "inactive")]
    with db.session() as s:
        assert records.load(s, "doc1").verified_claims() == []
        pending = recheck.pending_withdrawals(s)
        assert [p.doctor_id for p in pending] == ["doc1"]
        recheck.mark_withdrawal_handled(s, pending[0].id)
    with db.session() as s:
        assert recheck.pending_withdrawals(s) == []


def test_review_queue_approval(db, fixture_path):
    uk_gmc.import_full(db, fixture_path("gmc_full.csv"))
    r = records.verify(db, make_verifiers(db), "doc2", gmc_claim("1234567", "Chidi Peter", "Okafor"))
    assert r.status is ResultStatus.NEEDS_REVIEW
    with db.session() as s:
        assert records.load(s, "doc2").verified_claims() == []
        reg = s.query(records.DoctorRegistration).filter_by(doctor_id="doc2").one()
        records.approve_review(s, reg.id, reviewer="admin@curbside")
    with db.session() as s:
        assert len(records.load(s, "doc2").verified_claims()) == 1


@responses.activate
def test_stale_recheck_and_outage_keeps_verified(db, fixture_path):
    with open(fixture_path("big_live_match.xml"), "rb") as f:
        responses.post(nl_big.ENDPOINT, body=f.read())
    verifiers = make_verifiers(db)
    verifiers["nl-big"]._sleep = lambda s: None
    claim = RegistrationClaim("NL", "19012345601", "physician", "Jan", "van der Berg")
    assert records.verify(db, verifiers, "doc3", claim).status is ResultStatus.MATCH
    with db.session() as s:
        assert recheck.stale_registrations(s, older_than=timedelta(days=30)) == []
        later = utcnow() + timedelta(days=31)
        assert len(recheck.stale_registrations(s, older_than=timedelta(days=30), now=later)) == 1
    responses.replace(responses.POST, nl_big.ENDPOINT, body=requests.exceptions.ConnectionError())
    done = recheck.recheck_stale(db, verifiers, older_than=timedelta(0), now=utcnow() + timedelta(1))
    # The mirror holds the live answer cached earlier: the re-check still matches.
    assert [d.result.status for d in done] == [ResultStatus.MATCH]
    with db.session() as s:
        assert len(records.load(s, "doc3").verified_claims()) == 1


def test_every_register_has_a_verifier(db):
    from hub.verification.base import Verifier
    from hub.verification.registry import REGISTERS

    verifiers = make_verifiers(db)
    assert set(verifiers) == set(REGISTERS)
    assert all(isinstance(v, Verifier) for v in verifiers.values())
