"""Roles: auditors read and never act (403, audited); verifiers work the review queue only;
admins do everything. Every action needs a reason in words."""

from __future__ import annotations

import json
import secrets

from hub.persistence.db import utcnow
from hub.persistence.models.registers import DoctorRegistration, VerificationCheck
from tests.admin.conftest import ConsoleFor, audit_records
from tests.flows.conftest import RunningHub


def registration_awaiting_review(h: RunningHub, doctor_id: str) -> int:
    with h.hub.db.session() as s:
        reg = DoctorRegistration(doctor_id=doctor_id, register="nl-big", number=secrets.token_hex(5),
                                 country="NL", profession="physician", given_name="Anna",
                                 family_name="de Vries", status="needs_review", reason="partial name match",
                                 method="mirror", checked_at=utcnow())
        s.add(reg)
        s.flush()
        s.add(VerificationCheck(registration_id=reg.id, checked_at=reg.checked_at, status="needs_review",
                                reason="partial name match", method="mirror"))
        return reg.id


def test_auditor_reads_everything_and_every_action_is_refused_and_audited(
        admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    auditor = console_for("auditor")
    doctor = admin_hub.doctor()
    pending = admin_hub.client(status="pending")
    active = admin_hub.client()
    reg_id = registration_awaiting_review(admin_hub, doctor.id)
    for path in ("/admin/", f"/admin/doctors?q={doctor.email}", f"/admin/doctors/{doctor.id}",
                 "/admin/clients", "/admin/reviews", "/admin/audit", "/admin/audit/verify",
                 "/admin/audit/export"):
        assert auditor.get(path).status_code == 200, path
    page = auditor.get(f"/admin/doctors/{doctor.id}")
    assert "/suspend" not in page.text and "can read this page but not act" in page.text
    assert "/approve" not in auditor.get("/admin/clients").text + auditor.get("/admin/reviews").text
    attempts = [f"/admin/doctors/{doctor.id}/suspend", f"/admin/doctors/{doctor.id}/end-sessions",
                f"/admin/clients/{pending['client_id']}/approve",
                f"/admin/clients/{active['client_id']}/suspend",
                f"/admin/reviews/{reg_id}/approve"]
    for path in attempts:
        r = auditor.act(path)
        assert r.status_code == 403 and "auditor" in r.text, path
    assert not admin_hub.hub.accounts.get(doctor.id).disabled
    assert admin_hub.hub.clients.get(pending["client_id"]).status == "pending"
    assert admin_hub.hub.clients.get(active["client_id"]).status == "active"
    with admin_hub.hub.db.session() as s:
        assert s.get(DoctorRegistration, reg_id).status == "needs_review"
    denied = audit_records(admin_hub, actor=auditor.actor, event="admin:access:denied")
    assert len(denied) == len(attempts)
    detail = json.loads(denied[0].detail)
    assert detail == {"action": "admin.doctor_suspend", "method": "POST", "role": "auditor",
                      "permission": "manage_doctors", "target": doctor.id}
    # A crafted id in the URL is neither stored nor able to break the append.
    r = auditor.act("/admin/clients/Zq8vN3xT6mR1pL9wK4sB7yH2Zq8vN3xT6mR1/approve")
    assert r.status_code == 403
    last = audit_records(admin_hub, actor=auditor.actor, event="admin:access:denied")[-1]
    assert json.loads(last.detail)["target"] == "invalid"


def test_verifier_approves_reviews_but_not_networks_or_doctors(
        admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    verifier = console_for("verifier")
    doctor = admin_hub.doctor(given_name="Bram", family_name="Queue")
    reg_id = registration_awaiting_review(admin_hub, doctor.id)
    queue = verifier.get("/admin/reviews")
    assert queue.status_code == 200 and f"/admin/reviews/{reg_id}/approve" in queue.text
    assert "Bram Queue" in queue.text
    assert verifier.act(f"/admin/reviews/{reg_id}/approve", reason="").status_code == 400
    r = verifier.act(f"/admin/reviews/{reg_id}/approve", reason="Name differs by a prefix only")
    assert r.status_code == 303
    with admin_hub.hub.db.session() as s:
        reg = s.get(DoctorRegistration, reg_id)
        assert reg.status == "match" and reg.method == "review" and reg.reviewed_by == verifier.actor
    record = audit_records(admin_hub, actor=verifier.actor, event="doctor:verification:verified")[-1]
    expected = {"registration": reg_id, "register": "nl-big", "method": "review",
                "reason": "Name differs by a prefix only"}
    assert json.loads(record.detail).items() >= expected.items()
    assert verifier.act(f"/admin/reviews/{reg_id}/approve").status_code == 409  # not waiting any more
    pending = admin_hub.client(status="pending")
    assert verifier.act(f"/admin/clients/{pending['client_id']}/approve").status_code == 403
    assert verifier.act(f"/admin/doctors/{doctor.id}/suspend").status_code == 403
    assert admin_hub.hub.clients.get(pending["client_id"]).status == "pending"
    assert len(audit_records(admin_hub, actor=verifier.actor, event="admin:access:denied")) == 2


def test_admin_may_do_everything(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    admin = console_for("admin")
    doctor = admin_hub.doctor()
    reg_id = registration_awaiting_review(admin_hub, doctor.id)
    pending = admin_hub.client(status="pending")
    assert admin.act(f"/admin/reviews/{reg_id}/approve").status_code == 303
    assert admin.act(f"/admin/clients/{pending['client_id']}/approve").status_code == 303
    assert admin.act(f"/admin/doctors/{doctor.id}/end-sessions").status_code == 303
    assert admin.act(f"/admin/doctors/{doctor.id}/suspend").status_code == 303
    assert admin.act(f"/admin/doctors/{doctor.id}/unsuspend").status_code == 303
    assert audit_records(admin_hub, actor=admin.actor, event="admin:access:denied") == []


def test_every_action_needs_a_reason_in_words(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    admin = console_for("admin")
    doctor = admin_hub.doctor()
    path = f"/admin/doctors/{doctor.id}/suspend"
    for bad, message in (("", "Give a reason"), ("  \t ", "Give a reason"), ("x" * 501, "too long"),
                         ("Zq8vN3xT6mR1pL9wK4sB7yH2", "in words"), ("αβγ " * 100, "too long")):
        r = admin.act(path, reason=bad)
        assert r.status_code == 400 and message in r.text, bad
    assert not admin_hub.hub.accounts.get(doctor.id).disabled
    assert admin.act(f"/admin/doctors/{doctor.id}/end-sessions", reason="Ελέγχθηκε " * 20).status_code == 303
    assert admin.act(path, reason="  Licence\x00 suspended\nby the register  ").status_code == 303
    record = audit_records(admin_hub, actor=admin.actor, event="doctor:account:suspend")[-1]
    assert json.loads(record.detail)["reason"] == "Licence suspended by the register"
