"""Linked identities in the console (search, doctor page, revoke, dashboard) and the relying
parties' policy version and back-channel logout status on the networks page."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from connectors.base import LinkCredentials
from hub.links import links_for
from hub.persistence.db import utcnow
from hub.persistence.models.links import AccountLink, LinkToken, RelayState
from hub.persistence.models.relying import LogoutDelivery
from hub.relying import policy as relying_policy
from tests.admin.conftest import ConsoleFor, audit_records
from tests.flows.conftest import RunningHub
from tests.relying.conftest import EXAMPLES


def linked_doctor(h: RunningHub) -> tuple[Any, str, str, str]:
    """A doctor with an active link (feed kind: no upstream revocation needed), with tokens."""
    doctor = h.doctor()
    network = f"feed-{secrets.token_hex(3)}"
    links_for(h.hub).networks.add(network, "feed", {"allowed_hosts": ["127.0.0.1"]},
                                  display_name=f"Console Net {network}")
    subject = f"upstream-{secrets.token_hex(6)}"
    now = utcnow()
    with h.hub.db.session() as s:
        link = AccountLink(doctor_id=doctor.id, network=network, state="active",
                           active_key=f"{network}|https://up.example|{subject}",
                           issuer="https://up.example", subject=subject, acr="urn:up:loa:2",
                           amr=["pwd"], authenticated_at=now - timedelta(minutes=1), linked_at=now)
        s.add(link)
        s.flush()
        link_id = link.id
        s.add(RelayState(link_id=link_id))
    links_for(h.hub).vault.save(link_id, LinkCredentials(access_token="x"))
    return doctor, network, subject, link_id


def test_search_by_linked_subject_and_doctor_page_shows_the_link(
        admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    doctor, network, subject, link_id = linked_doctor(admin_hub)
    auditor = console_for("auditor")
    r = auditor.get("/admin/doctors", params={"q": subject})
    assert r.status_code == 200 and f"/admin/doctors/{doctor.id}" in r.text
    assert f"/admin/doctors/{doctor.id}" not in auditor.get("/admin/doctors",
                                                            params={"q": subject[:-2]}).text
    page = auditor.get(f"/admin/doctors/{doctor.id}")
    assert page.status_code == 200
    section = page.text.split(f'id="link-{link_id}"')[1].split("</article>")[0]
    assert f"Console Net {network}" in section and subject in section and "urn:up:loa:2" in section
    assert "status-active" in section and "linked" in section and "State history" in section
    assert "Revoke link" not in section  # auditors read only


def test_admin_revokes_a_link_through_the_links_service(admin_hub: RunningHub,
                                                        console_for: ConsoleFor) -> None:
    doctor, network, subject, link_id = linked_doctor(admin_hub)
    admin = console_for("admin")
    assert "Revoke link" in admin.get(f"/admin/doctors/{doctor.id}").text
    path = f"/admin/doctors/{doctor.id}/links/{link_id}/revoke"
    assert admin.act(path, reason="").status_code == 400  # a reason is required
    r = admin.act(path, reason="Doctor asked by phone, ticket 88")
    assert r.status_code == 303 and r.headers["Location"].endswith("done=link-revoked")
    with admin_hub.hub.db.session() as s:
        link = s.get(AccountLink, link_id)
        assert link is not None and link.state == "revoked" and link.active_key is None
        assert s.get(LinkToken, link_id) is None and s.get(RelayState, link_id) is None
    records = [json.loads(a.detail) for a in audit_records(admin_hub, actor=admin.actor,
                                                           event="doctor:link:revoke")]
    records = [d for d in records if d.get("link_id") == link_id]
    assert len(records) == 1
    assert records[0]["reason"] == "Doctor asked by phone, ticket 88"
    assert records[0]["network"] == network
    page = admin.get(f"/admin/doctors/{doctor.id}").text
    section = page.split(f'id="link-{link_id}"')[1].split("</article>")[0]
    assert "status-revoked" in section and "Doctor asked by phone, ticket 88" in section
    assert "Revoke link" not in section
    assert admin.act(path).status_code == 409  # already revoked
    other = admin_hub.doctor()
    assert admin.act(f"/admin/doctors/{other.id}/links/{link_id}/revoke").status_code == 404


def test_auditor_cannot_revoke_a_link(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    doctor, _, _, link_id = linked_doctor(admin_hub)
    auditor = console_for("auditor")
    r = auditor.act(f"/admin/doctors/{doctor.id}/links/{link_id}/revoke")
    assert r.status_code == 403
    denied = audit_records(admin_hub, actor=auditor.actor, event="admin:access:denied")
    assert denied and json.loads(denied[-1].detail)["action"] == "admin.doctor_link_revoke"
    assert not audit_records(admin_hub, actor=auditor.actor, event="doctor:link:revoke")
    with admin_hub.hub.db.session() as s:
        assert s.scalar(select(AccountLink.state).where(AccountLink.id == link_id)) == "active"


def test_dashboard_charts_links_per_network(admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    _, network, _, _ = linked_doctor(admin_hub)
    text = console_for("auditor").get("/admin/").text
    links = text.split('aria-labelledby="links-h"')[1].split("</section>")[0]
    assert '<svg class="chart"' in links and 'id="links-table"' in links
    assert f"Console Net {network}: 1 active links" in links


def test_networks_page_shows_policy_version_and_logout_delivery(
        admin_hub: RunningHub, console_for: ConsoleFor) -> None:
    client = admin_hub.client(client_name=f"Policy Net {secrets.token_hex(3)}",
                              backchannel_logout_uri="https://policy.example/bcl")
    client_id = client["client_id"]
    doc = (EXAMPLES / "uk-gmc.yaml").read_text().replace("version: 1", "version: 3", 1)
    relying_policy.store(admin_hub.hub).set(client_id, doc, actor="test")
    now = utcnow()
    with admin_hub.hub.db.session() as s:
        s.add_all([
            LogoutDelivery(client_id=client_id, uri="https://policy.example/bcl", trigger="test",
                           status="delivered", attempts=1, delivered_at=now),
            LogoutDelivery(client_id=client_id, uri="https://policy.example/bcl", trigger="test",
                           status="failed", attempts=6, last_error="connection refused",
                           next_attempt_at=now),
            LogoutDelivery(client_id=client_id, uri="https://policy.example/bcl", trigger="test",
                           status="pending", attempts=0),
        ])
    auditor = console_for("auditor")
    page = auditor.get("/admin/clients")
    assert page.status_code == 200
    row = page.text.split(f"<code>{client_id}</code>")[1].split("</tr>")[0]
    assert "version 3" in row
    assert "1 pending, 1 delivered, 1 failed" in row and "connection refused" in row
    assert "/approve" not in row and "/suspend" not in row  # read-only for auditors
