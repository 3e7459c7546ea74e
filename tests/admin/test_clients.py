"""Relying parties: approving a pending network lets it sign doctors in; suspending stops it."""

from __future__ import annotations

import json

from tests.admin.conftest import ConsoleFor, audit_records
from tests.flows.conftest import Browser, RelyingParty, RunningHub


def test_approving_a_pending_network_lets_it_sign_doctors_in(
        admin_hub: RunningHub, doctor_browser: Browser, console_for: ConsoleFor) -> None:
    creds = admin_hub.client(status="pending", client_name="Newcomer Network")
    doctor = admin_hub.doctor()
    rp = RelyingParty(admin_hub, creds)
    url, _ = rp.authorization_url()
    before = doctor_browser.get(url)
    assert "Location" not in before.headers and 'action="/login"' not in before.text
    admin = console_for("admin")
    listing = admin.get("/admin/clients")
    assert "Newcomer Network" in listing.text
    assert f"/admin/clients/{creds['client_id']}/approve" in listing.text
    r = admin.act(f"/admin/clients/{creds['client_id']}/approve", reason="Contract signed, DPA on file")
    assert r.status_code == 303
    assert rp.sign_in(doctor_browser, doctor.email)["id_token"]
    record = audit_records(admin_hub, actor=admin.actor, event="client:registration:approved")[-1]
    assert record.client_id == creds["client_id"]
    assert json.loads(record.detail) == {"reason": "Contract signed, DPA on file", "status": "active",
                                         "previous": "pending"}


def test_suspending_a_network_stops_its_sign_ins(
        admin_hub: RunningHub, doctor_browser: Browser, console_for: ConsoleFor) -> None:
    creds = admin_hub.client(client_name="Soon Suspended")
    doctor = admin_hub.doctor()
    rp = RelyingParty(admin_hub, creds)
    assert rp.sign_in(doctor_browser, doctor.email)["id_token"]
    admin = console_for("admin")
    r = admin.act(f"/admin/clients/{creds['client_id']}/suspend", reason="Security incident")
    assert r.status_code == 303
    url, _ = rp.authorization_url()
    refused = doctor_browser.get(url)
    assert "Location" not in refused.headers
    update = audit_records(admin_hub, actor=admin.actor, event="client:registration:update")[-1]
    assert json.loads(update.detail)["status"] == "suspended"
    # Suspending a pending registration is its rejection.
    pending = admin_hub.client(status="pending")
    r = admin.act(f"/admin/clients/{pending['client_id']}/suspend", reason="Unknown organisation")
    assert r.status_code == 303
    assert audit_records(admin_hub, actor=admin.actor, event="client:registration:rejected")[-1].client_id \
        == pending["client_id"]


def test_impossible_transitions_and_unknown_networks(admin_hub: RunningHub,
                                                     console_for: ConsoleFor) -> None:
    admin = console_for("admin")
    active = admin_hub.client()
    r = admin.act(f"/admin/clients/{active['client_id']}/approve")
    assert r.status_code == 409 and "active" in r.text
    assert admin.act("/admin/clients/no-such-client/approve").status_code == 404
