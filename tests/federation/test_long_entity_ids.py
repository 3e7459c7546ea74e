"""A federation member's client id is its entity id, a URL that can be long (OpenID
Federation 1.0 section 12.1): a 200-character one signs a doctor in through real sockets,
is audited, listed and suspended in the admin console, and takes a policy from
``hub client policy set``. The schema migration that widened the columns keeps the rows
of a database it upgrades."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from click.testing import CliRunner
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from hub.cli import main
from hub.persistence.db import Database
from hub.persistence.models.audit import AuditRecord
from hub.persistence.models.clients import ClientRecord
from hub.persistence.schema import upgrade
from tests.admin.conftest import ConsoleFor, admin_hub, console_for
from tests.flows.conftest import Browser, RunningHub, callback_params
from tests.flows.federation_net import Network, PartnerBackEnd, fed_hub, net

__all__ = ["admin_hub", "console_for", "fed_hub", "net"]  # the fixtures
LENGTH = 200


def _long_network(net: Network, tag: str) -> Any:
    prefix = f"{net.base}/{tag}-"
    name = tag + "-" + "x" * (LENGTH - len(prefix))
    rp = net.relying_party(name, hints=[net.intermediate.id],  # type: ignore[attr-defined]
                           client_name=f"Long {tag}")
    net.enrol(net.intermediate, rp)  # type: ignore[attr-defined]
    assert len(rp.id) == LENGTH
    return rp


def test_a_long_entity_id_signs_in_and_is_audited(fed_hub: RunningHub, net: Network) -> None:
    rp = _long_network(net, "signin")
    partner = PartnerBackEnd(fed_hub, rp)
    browser = Browser(fed_hub)
    done = browser.through(browser.get(partner.authorization_url()), fed_hub.doctor().email)
    token = partner.token(callback_params(done)["code"])
    jwks = KeySet.import_key_set(requests.get(f"{fed_hub.issuer}/jwks", timeout=5).json())
    assert jwt.decode(token["id_token"], jwks).claims["aud"] == rp.id
    userinfo = requests.get(f"{fed_hub.issuer}/userinfo", timeout=5,
                            headers={"Authorization": f"Bearer {token['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json()["sub"]
    with fed_hub.hub.db.session() as s:
        audited = s.scalars(select(AuditRecord.event).where(AuditRecord.client_id == rp.id)).all()
    assert audited, "the sign-in left no audit record naming the network"


def test_a_long_entity_id_takes_a_policy_from_the_command_line(
        fed_hub: RunningHub, net: Network, tmp_path: Path) -> None:
    rp = _long_network(net, "policy")
    browser = Browser(fed_hub)
    browser.through(browser.get(PartnerBackEnd(fed_hub, rp).authorization_url()), fed_hub.doctor().email)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"version": 1, "claims": {"allowed": ["sub"]},
                                  "access": {"min_assurance_level": "self_declared"}}))
    settings = fed_hub.hub.settings
    env = {"CURBSIDE_ISSUER": settings.issuer, "CURBSIDE_INSECURE_TRANSPORT": "1",
           "CURBSIDE_DATABASE_URL": settings.database_url, "CURBSIDE_STORE_URL": settings.store_url,
           "CURBSIDE_SECRET_KEY": settings.secret_key,
           "CURBSIDE_KEY_ENCRYPTION_KEYS": settings.key_encryption_keys,
           "CURBSIDE_INSTANCE_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["client", "policy", "set", rp.id, str(policy)], env=env)
    assert result.exit_code == 0, result.output
    assert f"in force for {rp.id}" in result.output


def test_the_console_lists_and_suspends_a_long_entity_id(admin_hub: RunningHub,
                                                         console_for: ConsoleFor) -> None:
    entity_id = "https://network.example/" + "a" * (LENGTH - len("https://network.example/"))
    with admin_hub.hub.db.session() as s:
        s.add(ClientRecord(client_id=entity_id, status="active", client_metadata={
            "client_name": "Long Named Network", "redirect_uris": [entity_id + "/cb"]}))
    admin = console_for("admin")
    assert f"/admin/clients/{entity_id}/suspend" in admin.get("/admin/clients").text
    assert admin.act(f"/admin/clients/{entity_id}/suspend", reason="Testing long ids").status_code == 303
    admin_hub.hub.clients.forget(entity_id)
    assert admin_hub.hub.clients.get(entity_id).status == "suspended"


def test_the_sqlite_migration_keeps_the_rows_of_the_tables_it_widens(tmp_path: Path) -> None:
    # SQLite with foreign keys on: a rebuild of `clients` would cascade into its dependants.
    db = Database(f"sqlite:///{tmp_path}/old.db")
    try:
        upgrade(db, "0008")
        with db.engine.begin() as c:
            c.execute(sa.text("INSERT INTO clients (client_id, status, client_metadata, created_at, "
                              "updated_at) VALUES ('c1', 'active', '{}', '2026-12-01', '2026-12-01')"))
            c.execute(sa.text("INSERT INTO registration_access_tokens (client_id, token_hash, created_at) "
                              "VALUES ('c1', 'h1', '2026-12-01')"))
        upgrade(db)
        long_id = "https://network.example/" + "b" * 300
        with db.engine.begin() as c:
            c.execute(sa.text("INSERT INTO clients (client_id, status, client_metadata, created_at, "
                              "updated_at) VALUES (:id, 'active', '{}', '2026-12-01', '2026-12-01')"),
                      {"id": long_id})
            ids = set(c.execute(sa.text("SELECT client_id FROM clients")).scalars())
            kept = c.execute(sa.text("SELECT client_id FROM registration_access_tokens")).scalars().all()
        assert ids == {"c1", long_id} and kept == ["c1"]
        widths = {col["name"]: getattr(col["type"], "length", None) for col in sa.inspect(db.engine).get_columns("clients")}
        assert widths["client_id"] == 2000
    finally:
        db.engine.dispose()
