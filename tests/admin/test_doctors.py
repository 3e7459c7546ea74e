"""A doctor's page and the actions on a doctor, checked against the protocol they affect."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from hub.persistence.db import utcnow
from hub.persistence.models.registers import DoctorRegistration, IdentityEvidence, VerificationCheck
from tests.admin.conftest import ConsoleFor, audit_records
from tests.flows.conftest import Browser, RelyingParty, RunningHub, callback_params


def signed_in_doctor(h: RunningHub, browser: Browser,
                     **client: str) -> tuple[Any, RelyingParty, dict[str, Any]]:
    doctor = h.doctor()
    rp = RelyingParty(h, h.client(**client), scope="openid profile offline_access")
    token = rp.sign_in(browser, doctor.email)
    time.sleep(0.01)  # the SSO cut-off compares sub-second times
    return doctor, rp, token


def assert_sessions_dead(rp: RelyingParty, browser: Browser, token: dict[str, Any]) -> None:
    url, _ = rp.authorization_url(prompt="none")
    assert callback_params(browser.get(url))["error"] == "login_required"
    r = requests.post(rp.meta["token_endpoint"], data={"grant_type": "refresh_token",
                                                       "refresh_token": token["refresh_token"]},
                      auth=(rp.creds["client_id"], rp.creds["client_secret"]), timeout=5)
    assert r.json()["error"] == "invalid_grant"
    ui = requests.get(rp.meta["userinfo_endpoint"], timeout=5,
                      headers={"Authorization": f"Bearer {token['access_token']}"})
    assert ui.status_code == 401


def test_doctor_page_shows_account_verification_consents_grants_and_history(
        admin_hub: RunningHub, doctor_browser: Browser, console_for: ConsoleFor) -> None:
    doctor, rp, _ = signed_in_doctor(admin_hub, doctor_browser, client_name="Page Network")
    now = utcnow()
    with admin_hub.hub.db.session() as s:
        reg = DoctorRegistration(doctor_id=doctor.id, register="uk-gmc", number="7654321", country="GB",
                                 profession="physician", given_name="Anna", family_name="de Vries",
                                 status="match", method="mirror", checked_at=now, verified_at=now,
                                 evidence={"type": "electronic_record",
                                           "check_details": [{"check_method": "data"}]})
        s.add(reg)
        s.flush()
        s.add(VerificationCheck(registration_id=reg.id, checked_at=now, status="match", method="mirror"))
        s.add(IdentityEvidence(doctor_id=doctor.id, type="vouch", details={}, given_name="Anna",
                               family_name="de Vries", recorded_by="admin:someone"))
    page = console_for("auditor").get(f"/admin/doctors/{doctor.id}")
    assert page.status_code == 200
    text = page.text
    assert doctor.email in text and doctor.id in text
    assert "uk-gmc · 7654321" in text and "electronic_record" in text and "vouch" in text
    consents = text.split('id="consents"')[1].split("</table>")[0]
    assert rp.creds["client_id"] in consents and "profile" in consents or "name" in consents
    grants = text.split('id="grants"')[1].split("</table>")[0]
    assert "Page Network" in grants and '<td class="num">1</td>' in grants
    history = text.split('id="history"')[1].split("</table>")[0]
    assert "auth:login:success" in history and "doctor:consent:grant" in history
    assert 'id="no-links"' in text


def test_ending_sessions_kills_sso_and_tokens_and_is_audited(
        admin_hub: RunningHub, doctor_browser: Browser, console_for: ConsoleFor) -> None:
    doctor, rp, token = signed_in_doctor(admin_hub, doctor_browser)
    admin = console_for("admin")
    r = admin.act(f"/admin/doctors/{doctor.id}/end-sessions", reason="Laptop reported stolen")
    assert r.status_code == 303 and r.headers["Location"] == f"/admin/doctors/{doctor.id}?done=sessions-ended"
    assert_sessions_dead(rp, doctor_browser, token)
    records = audit_records(admin_hub, actor=admin.actor, event="admin:session:revoke")
    details = [json.loads(rec.detail) for rec in records]
    assert len(details) == 1  # one record per action
    assert details[0] == {"doctor": doctor.id, "reason": "Laptop reported stolen", "grants": 1,
                          "reason_kind": "admin_end_sessions"}
    page = admin.get(f"/admin/doctors/{doctor.id}")
    assert 'id="no-grants"' in page.text and "Laptop reported stolen" in page.text
    time.sleep(0.01)
    assert rp.sign_in(doctor_browser, doctor.email)["access_token"]  # the doctor may sign in again


def test_suspending_stops_sign_in_until_unsuspended(
        admin_hub: RunningHub, doctor_browser: Browser, console_for: ConsoleFor) -> None:
    doctor, rp, token = signed_in_doctor(admin_hub, doctor_browser)
    admin = console_for("admin")
    r = admin.act(f"/admin/doctors/{doctor.id}/suspend", reason="Register shows a suspension")
    assert r.status_code == 303
    assert admin_hub.hub.accounts.get(doctor.id).disabled
    assert_sessions_dead(rp, doctor_browser, token)
    fresh = Browser(admin_hub)
    url, _ = rp.authorization_url()
    refused = fresh.login(fresh.get(url), doctor.email)
    assert refused.status_code == 401
    assert "suspended" in admin.get(f"/admin/doctors/{doctor.id}").text
    assert admin.act(f"/admin/doctors/{doctor.id}/unsuspend", reason="Suspension lifted").status_code == 303
    assert rp.sign_in(Browser(admin_hub), doctor.email)["access_token"]
    events = [(rec.event, json.loads(rec.detail).get("reason"))
              for rec in audit_records(admin_hub, actor=admin.actor)]
    assert ("doctor:account:suspend", "Register shows a suspension") in events
    assert ("admin:session:revoke", "admin_suspended") in events
    assert ("doctor:account:unsuspend", "Suspension lifted") in events


def test_unknown_or_malformed_doctor_ids_are_404(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    admin = console_for("admin")
    for doctor_id in ("0" * 32, "x" * 40, "%00", "..%2f..%2fetc"):
        assert admin.get(f"/admin/doctors/{doctor_id}").status_code == 404, doctor_id
        assert admin.act(f"/admin/doctors/{doctor_id}/suspend").status_code == 404, doctor_id


def test_rerun_verification_checks_again_and_is_audited(
        admin_hub: RunningHub, doctor_browser: Browser, console_for: ConsoleFor) -> None:
    doctor, rp, token = signed_in_doctor(admin_hub, doctor_browser)
    auditor = console_for("auditor")
    assert auditor.act(f"/admin/doctors/{doctor.id}/recheck", reason="Just curious").status_code == 403
    admin = console_for("admin")
    page = admin.get(f"/admin/doctors/{doctor.id}")
    assert "Re-run verification" in page.text
    r = admin.act(f"/admin/doctors/{doctor.id}/recheck", reason="Register reported a correction")
    assert r.status_code == 303 and r.headers["Location"] == f"/admin/doctors/{doctor.id}?done=rechecked"
    records = audit_records(admin_hub, actor=admin.actor, event="admin:verification:recheck")
    details = [json.loads(rec.detail) for rec in records]
    assert {"doctor": doctor.id, "reason": "Register reported a correction", "checked": 0} in \
        [{k: d[k] for k in ("doctor", "reason", "checked")} for d in details]
