"""The networks page invites a network: an initial access token, approved in advance or not."""

from __future__ import annotations

import json
import re

import requests

from tests.admin.conftest import ConsoleFor, audit_records
from tests.flows.conftest import Browser, RelyingParty, RunningHub


def _issue(admin: object, **form: str) -> str:
    r = admin.act("/admin/clients/initial-token", reason="Partner contract signed", **form)  # type: ignore[attr-defined]
    # Post-redirect-get: the token is on the page the POST sends the browser to, once.
    assert r.status_code == 303, r.text[:300]
    shown = admin.get(r.headers["Location"])  # type: ignore[attr-defined]
    assert shown.status_code == 200, shown.text[:300]
    again = admin.get(r.headers["Location"])  # type: ignore[attr-defined]
    assert 'id="initial-token"' not in again.text
    return re.search(r'<code id="initial-token">([^<]+)</code>', shown.text).group(1)


def _register(hub: RunningHub, token: str, name: str) -> dict[str, object]:
    r = requests.post(f"{hub.issuer}/register", headers={"Authorization": f"Bearer {token}"}, timeout=5,
                      json={"client_name": name, "redirect_uris": ["https://invited.example/cb"]})
    assert r.status_code == 201, r.text
    return r.json()


def test_an_admin_invites_a_network_that_signs_doctors_in_at_once(
        admin_hub: RunningHub, doctor_browser: Browser, console_for: ConsoleFor) -> None:
    admin = console_for("admin")
    assert 'id="invite-approved"' in admin.get("/admin/clients").text
    creds = _register(admin_hub, _issue(admin, label="Harbour Clinic", approved="yes"), "Harbour Clinic")
    assert creds["status"] == "active"
    rp = RelyingParty(admin_hub, creds)
    assert rp.sign_in(doctor_browser, admin_hub.doctor().email)["id_token"]
    issued = audit_records(admin_hub, actor=admin.actor, event="client:initial_token:issue")[-1]
    assert json.loads(issued.detail)["approved"] is True
    approval = audit_records(admin_hub, actor=admin.actor, event="client:registration:approved")[-1]
    assert approval.client_id == creds["client_id"]

    pending = _register(admin_hub, _issue(admin, label="Unreviewed"), "Unreviewed Clinic")
    assert pending["status"] == "pending"
    assert admin_hub.hub.clients.get(pending["client_id"]).status == "pending"


def test_an_auditor_cannot_issue_tokens(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    auditor = console_for("auditor")
    assert 'id="invite-approved"' not in auditor.get("/admin/clients").text
    r = auditor.act("/admin/clients/initial-token", approved="yes")
    assert r.status_code == 403


def test_a_reload_after_inviting_mints_no_second_token(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    admin = console_for("admin")
    before = len(audit_records(admin_hub, actor=admin.actor, event="client:initial_token:issue"))
    r = admin.act("/admin/clients/initial-token", label="Reload Clinic")
    assert r.status_code == 303 and r.headers["Location"].startswith("/admin/clients?issued=")
    for _ in range(2):  # the browser reloads the page it was sent to: a GET, nothing minted
        admin.get(r.headers["Location"])
    assert len(audit_records(admin_hub, actor=admin.actor, event="client:initial_token:issue")) == before + 1
    # Another admin holding the same URL sees no token.
    other = console_for("admin")
    r2 = admin.act("/admin/clients/initial-token", label="Leaked URL Clinic")
    assert 'id="initial-token"' not in other.get(r2.headers["Location"]).text
    assert 'id="initial-token"' in admin.get(r2.headers["Location"]).text


def test_a_label_that_looks_like_a_secret_is_refused_before_a_token_is_minted(
        admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    """The audit log refuses token-like values (hub/audit/detail.py): a label pasted from a
    password manager must be refused with a page, before any token exists, not minted
    unaudited and answered with a 500."""
    admin = console_for("admin")
    before = len(audit_records(admin_hub, actor=admin.actor, event="client:initial_token:issue"))
    r = admin.act("/admin/clients/initial-token", label="Qm9sZC1LZXktOHpYcTNwTDl2UjJ0WTVu")
    assert r.status_code == 400 and "label" in r.text.lower()
    assert len(audit_records(admin_hub, actor=admin.actor, event="client:initial_token:issue")) == before
