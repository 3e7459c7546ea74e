"""Manual review (the service functions the admin console calls), document retention and
vouching, each seen through the doctor's page and the tokens a partner network gets."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.persistence.db import utcnow
from hub.persistence.models.audit import AuditRecord
from hub.persistence.models.registers import DoctorRegistration, IdentityEvidence, ReviewDocument
from hub.verification import documents, jobs, review
from hub.verification.documents import DocumentPolicy
from hub.verification.schemas import validate_verified_claims
from tests.flows.conftest import RelyingParty, RunningHub
from tests.verification_flows import registers as reg
from tests.verification_flows.helpers import (
    VC,
    DoctorAtHub,
    claims_param,
    cli,
    new_doctor,
    sign_in,
    vc_request,
)

PDF = b"%PDF-1.4\n% licence scan\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
REVIEWER = "admin-7"


def _gmc(hub: RunningHub, tmp: Path, *people: reg.Person) -> None:
    r = cli(hub, "import", "uk-gmc", str(reg.gmc_full(tmp / f"lrmp-{people[0].number}.csv", list(people))),
            "--quiet")
    assert r.exit_code == 0, r.output


def _registration(hub: RunningHub, doctor: DoctorAtHub) -> DoctorRegistration:
    with hub.hub.db.session() as s:
        row = s.execute(select(DoctorRegistration)
                        .where(DoctorRegistration.doctor_id == doctor.id)).scalar_one()
        s.expunge(row)
        return row


def _documents(hub: RunningHub, doctor: DoctorAtHub) -> list[ReviewDocument]:
    with hub.hub.db.session() as s:
        rows = list(s.execute(select(ReviewDocument).where(ReviewDocument.doctor_id == doctor.id)
                              .order_by(ReviewDocument.id)).scalars())
        s.expunge_all()
        return rows


def _events(hub: RunningHub, name: str) -> list[dict[str, object]]:
    with hub.hub.db.session() as s:
        return [json.loads(r.detail) for r in s.scalars(select(AuditRecord).where(AuditRecord.event == name))]


def _in_review(hub: RunningHub, tmp: Path) -> tuple[DoctorAtHub, DoctorRegistration]:
    """A partial name match (a given name the register lacks) waits for a person."""
    p = reg.Person("Chidi", "Okafor", reg.gmc_number(), other="Emeka")
    _gmc(hub, tmp, p)
    doctor = new_doctor(hub, "Chidi Peter", "Okafor")
    page = doctor.check("GB", p.number)
    assert "Sent to manual review" in page.text, page.text[:3000]
    return doctor, _registration(hub, doctor)


def test_approval_after_review_with_a_document(running_hub: RunningHub, tmp_path: Path) -> None:
    doctor, registration = _in_review(running_hub, tmp_path)
    assert doctor.upload("licence", "licence.pdf", PDF, registration=str(registration.id)).status_code == 200
    assert doctor.upload("id_document", "passport.jpg", JPEG).status_code == 200
    licence, passport = _documents(running_hub, doctor)

    queue = review.review_queue(running_hub.hub)
    item = next(i for i in queue.registrations if i.registration_id == registration.id)
    assert (item.doctor_id, item.status, item.register) == (doctor.id, "needs_review", "uk-gmc")
    assert item.doctor_name == "Chidi Peter Okafor" and item.entry and item.entry["given_names"]
    assert [d.id for d in item.documents] == [licence.id]
    assert passport.id in [d.id for d in queue.documents]  # not tied to a registration

    content = review.fetch_document(running_hub.hub, licence.id, reviewer=REVIEWER, address="192.0.2.7")
    assert content.data == PDF and content.info.content_type == "application/pdf"
    assert content.filename == f"curbside-licence-{licence.id}.pdf"
    assert {"doctor": doctor.id, "upload": licence.id, "kind": "licence"} in _events(
        running_hub, "admin:document:view")

    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
    assert VC not in sign_in(rp, doctor, claims=claims_param(vc_request()))["id_claims"]
    assert review.approve_registration(running_hub.hub, registration.id, reviewer=REVIEWER,
                                       reason="Peter is a baptismal name; licence checked") == doctor.id
    approved = _registration(running_hub, doctor)
    assert (approved.status, approved.reviewed_by) == ("match", REVIEWER) and "baptismal" in approved.reason
    licence_after = _documents(running_hub, doctor)[0]
    # Decided, so deleted (default retention: none); the decision stays on record.
    assert licence_after.status == "accepted" and licence_after.content_enc is None
    assert licence_after.decided_by == REVIEWER
    with pytest.raises(LookupError):
        review.fetch_document(running_hub.hub, licence.id, reviewer=REVIEWER)
    with pytest.raises(LookupError):
        review.approve_registration(running_hub.hub, registration.id, reviewer=REVIEWER, reason="again")
    tokens = sign_in(rp, doctor, claims=claims_param(vc_request()))
    assert tokens["id_claims"][VC]["verification"]["assurance_level"] == "register_match"
    assert "Verified" in doctor.page().text

    # The passport: accepted with what the reviewer read on it, it raises the level.
    with pytest.raises(ValueError, match="type"):
        review.accept_document(running_hub.hub, passport.id, reviewer=REVIEWER, reason="ok")
    review.accept_document(running_hub.hub, passport.id, reviewer=REVIEWER, reason="photo matches",
                           document_type="passport", given_name="Chidi Peter", family_name="Okafor",
                           issuer_country="GBR")
    tokens = sign_in(rp, doctor, claims=claims_param(vc_request()))
    vc = tokens["id_claims"][VC]
    validate_verified_claims({VC: vc})
    assert vc["verification"]["assurance_level"] == "register_and_id"
    assert [e["type"] for e in vc["verification"]["evidence"]] == ["electronic_record", "document"]
    assert vc["verification"]["evidence"][1] == {"type": "document", "document_details": {"type": "passport"}}
    assert _documents(running_hub, doctor)[1].content_enc is None


def test_rejection_is_recorded_and_never_released(running_hub: RunningHub, tmp_path: Path) -> None:
    doctor, registration = _in_review(running_hub, tmp_path)
    assert doctor.upload("badge", "badge.jpg", JPEG, registration=str(registration.id)).status_code == 200
    review.reject_registration(running_hub.hub, registration.id, reviewer=REVIEWER,
                               reason="badge names someone else")
    rejected = _registration(running_hub, doctor)
    assert rejected.status == "rejected" and "badge names someone else" in rejected.reason
    badge = _documents(running_hub, doctor)[0]
    assert badge.status == "rejected" and badge.content_enc is None
    page = doctor.page().text
    assert "Not accepted after review" in page and "badge names someone else" in page
    queue = review.review_queue(running_hub.hub)
    assert registration.id not in [i.registration_id for i in queue.registrations]
    rejections = _events(running_hub, "doctor:verification:rejected")
    assert any(e.get("registration") == registration.id for e in rejections)
    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")
    assert VC not in sign_in(rp, doctor, claims=claims_param(vc_request()))["id_claims"]


def test_retention_and_the_purge_job(running_hub: RunningHub, tmp_path: Path) -> None:
    doctor = new_doctor(running_hub, "Kept", "Awhile")
    assert doctor.upload("licence", "l.pdf", PDF).status_code == 200
    assert doctor.upload("licence", "l2.pdf", PDF).status_code == 200
    kept, stale = _documents(running_hub, doctor)
    now = utcnow()
    with running_hub.hub.db.session() as s:
        documents.decide(s.get(ReviewDocument, kept.id), documents.ACCEPTED, reviewer=REVIEWER, reason="ok",
                         policy=DocumentPolicy(retention=timedelta(days=7)), now=now)
    with running_hub.hub.db.session() as s:
        assert documents.purge_due(s, now=now + timedelta(days=6)) == 0
    with running_hub.hub.db.session() as s:
        assert s.get(ReviewDocument, kept.id).content_enc is not None
        # Past retention (the decided one) and past the maximum pending age (the other).
        assert documents.purge_due(s, now=now + timedelta(days=91)) >= 2
    after = {d.id: d for d in _documents(running_hub, doctor)}
    assert after[kept.id].content_enc is None and after[kept.id].status == "accepted"
    assert after[stale.id].content_enc is None and after[stale.id].status == "expired"
    assert "Deleted unreviewed" in doctor.page().text
    r = cli(running_hub, "purge-documents")
    assert r.exit_code == 0 and "documents deleted" in r.output
    assert jobs.purge_documents(running_hub.hub) == 0


def test_two_vouches_become_evidence_and_lapse_with_a_voucher(running_hub: RunningHub,
                                                               tmp_path: Path) -> None:
    people = [reg.Person("Amy", "Voucher", reg.gmc_number()), reg.Person("Ben", "Voucher", reg.gmc_number()),
              reg.Person("Cat", "Colleague", reg.gmc_number())]
    _gmc(running_hub, tmp_path, *people)
    amy, ben, cat = (new_doctor(running_hub, p.given, p.family) for p in people)
    for d, p in zip((amy, ben, cat), people, strict=True):
        assert "<h2>Verified</h2>" in d.check("GB", p.number).text
    thanks = "If a Curbside account uses that address, your vouch is recorded"
    assert thanks in amy.post("/vouch", {"email": "nobody-here@example.org"}).text
    assert "cannot vouch for yourself" in amy.post("/vouch", {"email": amy.email}).text
    assert thanks in amy.post("/vouch", {"email": cat.email}).text
    assert thanks in amy.post("/vouch", {"email": cat.email}).text  # twice counts once

    rp = RelyingParty(running_hub, running_hub.client(), scope="openid")

    def vouch_evidence() -> list[dict[str, object]]:
        vc = sign_in(rp, cat, claims=claims_param(vc_request()))["id_claims"][VC]
        validate_verified_claims({VC: vc})
        return [e for e in vc["verification"]["evidence"] if e["type"] == "vouch"]

    assert vouch_evidence() == []  # one vouch is not enough
    assert thanks in ben.post("/vouch", {"email": cat.email}).text
    vouches = vouch_evidence()
    assert len(vouches) == 2
    assert {v["attestation"]["type"] for v in vouches} == {"digital_attestation"}  # type: ignore[index]
    assert "vouched for you 2 times" in cat.page().text
    assert sign_in(rp, cat, claims=claims_param(vc_request(level="register_match")))["id_claims"][VC] \
        ["verification"]["assurance_level"] == "register_match"  # vouches raise no level

    # Amy's licence is suspended: her vouch no longer counts, so neither vouch is evidence.
    delta = reg.gmc_delta(tmp_path / "delta.csv", [(people[0], "Suspended")])
    r = cli(running_hub, "import", "uk-gmc", str(delta), "--delta", "--quiet")
    assert r.exit_code == 0 and f"withdrawn: doctor {amy.id}" in r.output, r.output
    assert vouch_evidence() == []
    with running_hub.hub.db.session() as s:
        revoked = s.execute(select(IdentityEvidence)
                            .where(IdentityEvidence.doctor_id == cat.id)).scalars().all()
        assert len(revoked) == 2 and all(e.revoked_at is not None for e in revoked)
    assert any(e.get("doctor") == cat.id and e.get("vouches") == 2
               for e in _events(running_hub, "doctor:verification:vouch"))
