"""The console's network list shows how a network that joined by OpenID Federation was
admitted: anchor, superior, chain expiry, trust marks, and a chain that stopped resolving."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from hub.persistence.models.clients import ClientRecord
from hub.persistence.models.federation import FederationRegistration
from tests.admin.conftest import ConsoleFor
from tests.flows.conftest import RunningHub

MARK = "https://curbside.example/trust-marks/verified-physicians-only"


def test_network_page_shows_chain_anchor_trust_marks_and_expiry(admin_hub: RunningHub,
                                                                 console_for: ConsoleFor) -> None:
    entity_id = f"https://clinic-{secrets.token_hex(3)}.example"
    expires = datetime.now(UTC) + timedelta(hours=5)
    with admin_hub.hub.db.session() as s:
        s.add(ClientRecord(client_id=entity_id, status="active", client_metadata={
            "client_name": "Federated Clinic", "redirect_uris": [entity_id + "/cb"],
            "token_endpoint_auth_method": "private_key_jwt"}))
        s.add(FederationRegistration(
            client_id=entity_id, kind="automatic", trust_anchor="https://anchor.example",
            authority_hint="https://regional.example", chain_expires_at=expires,
            chain=["a", "b", "c", "d"], trust_marks=[MARK], failure="invalid_trust_chain: expired"))
    page = console_for("admin").get("/admin/clients").text
    assert "Federated Clinic" in page and "automatic registration" in page
    assert "https://anchor.example" in page and "https://regional.example" in page
    assert expires.strftime("%Y-%m-%d %H:%M") in page and MARK in page
    assert "chain of 4 statements" in page
    assert "no longer resolves" in page and "invalid_trust_chain: expired" in page


def test_a_federation_network_can_be_suspended_from_the_console(admin_hub: RunningHub,
                                                                console_for: ConsoleFor) -> None:
    entity_id = f"https://member-{secrets.token_hex(3)}.example/rp"
    with admin_hub.hub.db.session() as s:
        s.add(ClientRecord(client_id=entity_id, status="active", client_metadata={
            "client_name": "Federated Member", "redirect_uris": [entity_id + "/cb"]}))
    admin = console_for("admin")
    assert f"/admin/clients/{entity_id}/suspend" in admin.get("/admin/clients").text
    r = admin.act(f"/admin/clients/{entity_id}/suspend", reason="Left the federation agreement")
    assert r.status_code == 303
    admin_hub.hub.clients.forget(entity_id)
    assert admin_hub.hub.clients.get(entity_id).status == "suspended"
