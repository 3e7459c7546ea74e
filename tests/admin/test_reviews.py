"""The review queue: verifiers decide registrations and documents through the verification
module's review service; auditors can neither decide nor open documents."""

from __future__ import annotations

import json

from hub.persistence.models.registers import DoctorRegistration, IdentityEvidence
from hub.verification import documents
from tests.admin.conftest import ConsoleFor, audit_records
from tests.admin.test_roles import registration_awaiting_review
from tests.flows.conftest import RunningHub

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def uploaded(h: RunningHub, doctor_id: str, kind: str, registration_id: int | None = None) -> int:
    with h.hub.db.session() as s:
        return documents.store(s, h.hub.secrets, doctor_id, kind, PNG, registration_id=registration_id).id


def test_verifier_rejects_a_registration(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    doctor = admin_hub.doctor()
    reg_id = registration_awaiting_review(admin_hub, doctor.id)
    verifier = console_for("verifier")
    assert f"/admin/reviews/{reg_id}/reject" in verifier.get("/admin/reviews").text
    r = verifier.act(f"/admin/reviews/{reg_id}/reject", reason="Register entry is someone else")
    assert r.status_code == 303 and r.headers["Location"] == "/admin/reviews?done=rejected"
    with admin_hub.hub.db.session() as s:
        reg = s.get(DoctorRegistration, reg_id)
        assert reg.status == "rejected" and reg.reviewed_by == verifier.actor
    record = audit_records(admin_hub, actor=verifier.actor, event="doctor:verification:rejected")[-1]
    assert json.loads(record.detail)["reason"] == "Register entry is someone else"
    assert verifier.act(f"/admin/reviews/{reg_id}/approve").status_code == 409


def test_verifier_opens_a_document_and_identity_documents_need_their_facts(
        admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    doctor = admin_hub.doctor()
    reg_id = registration_awaiting_review(admin_hub, doctor.id)
    licence = uploaded(admin_hub, doctor.id, "licence", reg_id)
    id_doc = uploaded(admin_hub, doctor.id, "id_document")
    verifier = console_for("verifier")
    queue = verifier.get("/admin/reviews").text
    assert f"/admin/documents/{licence}" in queue and f"/admin/documents/{id_doc}/accept" in queue
    r = verifier.get(f"/admin/documents/{id_doc}")
    assert r.status_code == 200 and r.content == PNG and r.headers["Content-Type"] == "image/png"
    assert "attachment" in r.headers["Content-Disposition"]
    assert "sandbox" in r.headers["Content-Security-Policy"]
    assert audit_records(admin_hub, actor=verifier.actor, event="admin:document:view")
    r = verifier.act(f"/admin/documents/{id_doc}/accept", reason="Passport checked")
    assert r.status_code == 400 and "family name" in r.text
    r = verifier.act(f"/admin/documents/{id_doc}/accept", reason="Passport checked",
                     date_of_expiry="31/12/2031")
    assert r.status_code == 400 and "date of expiry" in r.text


def test_verifier_decides_documents(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    doctor = admin_hub.doctor(given_name="Dora", family_name="Docs")
    reg_id = registration_awaiting_review(admin_hub, doctor.id)
    uploaded(admin_hub, doctor.id, "licence", reg_id)
    id_doc = uploaded(admin_hub, doctor.id, "id_document")
    badge = uploaded(admin_hub, doctor.id, "badge")
    verifier = console_for("verifier")
    r = verifier.act(f"/admin/documents/{id_doc}/accept", reason="Passport checked", document_type="passport",
                     given_name="Dora", family_name="Docs", issuer_country="NL", date_of_expiry="2031-12-31")
    assert r.status_code == 303
    with admin_hub.hub.db.session() as s:
        evidence = s.query(IdentityEvidence).filter_by(doctor_id=doctor.id, type="document").one()
        assert evidence.family_name == "Docs" and evidence.recorded_by == verifier.actor
    assert verifier.act(f"/admin/documents/{badge}/reject", reason="Badge unreadable").status_code == 303
    assert verifier.act(f"/admin/documents/{badge}/reject", reason="again").status_code == 409
    # The licence attached to the registration is decided with it.
    assert verifier.act(f"/admin/reviews/{reg_id}/approve", reason="Licence matches").status_code == 303
    decisions = [json.loads(rec.detail)["decision"]
                 for rec in audit_records(admin_hub, actor=verifier.actor, event="doctor:document:decide")]
    assert decisions == ["accepted", "rejected"]
    page = verifier.get(f"/admin/doctors/{doctor.id}").text
    assert 'id="documents"' in page and "Badge unreadable" in page and "Licence matches" in page


def test_auditors_cannot_open_or_decide_documents(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    doctor = admin_hub.doctor()
    doc = uploaded(admin_hub, doctor.id, "id_document")
    auditor = console_for("auditor")
    queue = auditor.get("/admin/reviews").text
    assert "identity document" in queue and f"/admin/documents/{doc}" not in queue
    assert auditor.get(f"/admin/documents/{doc}").status_code == 403
    assert auditor.act(f"/admin/documents/{doc}/reject").status_code == 403
    denied = audit_records(admin_hub, actor=auditor.actor, event="admin:access:denied")
    actions = [json.loads(d.detail)["action"] for d in denied]
    assert actions == ["admin.document_view", "admin.document_reject"]
    assert audit_records(admin_hub, actor=auditor.actor, event="admin:document:view") == []
