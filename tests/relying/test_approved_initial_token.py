"""Invited networks start at once: a network registering (RFC 7591) with an initial access
token that carries an admin's approval is active and signs doctors in with no admin step;
a token without it keeps the review. And the CLI mints such tokens and creates clients
with the registration metadata a network needs (back-channel logout, pairwise sectors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from hub.cli import main
from hub.persistence.models.audit import AuditRecord
from hub.persistence.models.relying import InitialAccessToken
from hub.relying.invitations import issue_initial_token
from tests.flows.conftest import Browser, RunningHub, callback_params

oic = pytest.importorskip("oic")

METADATA: dict[str, Any] = {"client_name": "Invited Doctors", "redirect_uris": ["https://invited.example/cb"],
                            "contacts": ["ops@invited.example"]}


def _pyoidc_client(hub: RunningHub, token: str) -> Any:
    """pyoidc (``oic``) registers as its docs show (OIDC Registration 1.0 §3); the token goes
    on its HTTP session because pyoidc base64-encodes a token it is handed."""
    from oic.oic import Client
    from oic.utils.authn.client import CLIENT_AUTHN_METHOD

    client = Client(client_authn_method=CLIENT_AUTHN_METHOD,
                    config={"code_challenge": {"method": "S256", "length": 64}})
    client.provider_config(hub.issuer)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    client.settings.requests_session = session
    return client


def test_a_network_invited_with_approval_signs_a_doctor_in_at_once(running_hub: RunningHub) -> None:
    from oic import rndstr
    from oic.oic.message import AuthorizationResponse

    token = issue_initial_token(running_hub.hub, label="Invited Doctors", actor="admin:invites",
                                approved=True)
    client = _pyoidc_client(running_hub, token)
    reg = client.register(client.registration_endpoint, **METADATA)
    assert reg["status"] == "active"
    client.settings.requests_session.headers.pop("Authorization")
    client.redirect_uris = METADATA["redirect_uris"]

    doctor = running_hub.doctor(given_name="Sofie", family_name="Jensen")
    state, nonce = rndstr(32), rndstr(32)
    pkce, verifier = client.add_code_challenge()
    url = client.construct_AuthorizationRequest(request_args={
        "client_id": client.client_id, "response_type": "code", "redirect_uri": client.redirect_uris[0],
        "scope": ["openid", "profile"], "state": state, "nonce": nonce, **pkce,
    }).request(client.authorization_endpoint)
    browser = Browser(running_hub)
    callback = browser.through(browser.get(url), doctor.email)
    assert "code" in callback_params(callback)
    answer = client.parse_response(AuthorizationResponse, sformat="urlencoded",
                                   info=urlsplit(callback.headers["Location"]).query)
    tokens = client.do_access_token_request(state=state, authn_method="client_secret_basic", request_args={
        "code": answer["code"], "code_verifier": verifier, "redirect_uri": client.redirect_uris[0]})
    assert tokens["id_token"]["nonce"] == nonce  # pyoidc verified signature, iss, aud, expiry

    with running_hub.hub.db.session() as s:
        approval = s.scalars(select(AuditRecord).where(AuditRecord.client_id == client.client_id,
                                                       AuditRecord.event == "client:registration:approved")).all()
    assert len(approval) == 1 and approval[0].actor == "admin:invites"
    assert json.loads(approval[0].detail)["via"] == "initial_access_token"


def test_a_token_without_approval_keeps_the_network_pending(running_hub: RunningHub) -> None:
    client = _pyoidc_client(running_hub, issue_initial_token(running_hub.hub))
    reg = client.register(client.registration_endpoint, **{**METADATA, "client_name": "Uninvited"})
    assert reg["status"] == "pending"
    assert running_hub.hub.clients.get(reg["client_id"]).status == "pending"
    doctor = running_hub.doctor()
    browser = Browser(running_hub)
    url = (f"{running_hub.issuer}/authorize?response_type=code&client_id={reg['client_id']}"
           f"&redirect_uri=https://invited.example/cb&scope=openid&state=s&code_challenge_method=S256"
           f"&code_challenge={'a' * 43}")
    page = browser.through(browser.get(url), doctor.email)
    # No doctor signs in to it yet: the hub treats it as an unknown client (no redirect).
    assert page.status_code == 400 and "Location" not in page.headers


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {"CURBSIDE_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db", "CURBSIDE_INSTANCE_DIR": str(tmp_path),
           "CURBSIDE_ISSUER": "https://id.curbside.example", "CURBSIDE_ARGON2_MEMORY_COST": "1024",
           "CURBSIDE_ARGON2_TIME_COST": "1"}
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    return env


def test_cli_mints_approved_and_unapproved_tokens(cli_env: dict[str, str]) -> None:
    from hub.domain.crypto import sha256_hex
    from hub.persistence.db import Database

    approved = CliRunner().invoke(main, ["client", "initial-token", "--approved", "--label", "Invited"],
                                  env=cli_env)
    plain = CliRunner().invoke(main, ["client", "initial-token"], env=cli_env)
    assert approved.exit_code == 0 and plain.exit_code == 0, approved.output + plain.output
    db = Database(cli_env["CURBSIDE_DATABASE_URL"])
    with db.session() as s:
        flags = {t.token_hash: t.approved for t in s.scalars(select(InitialAccessToken))}
    db.engine.dispose()
    assert flags == {sha256_hex(approved.output.strip()): True, sha256_hex(plain.output.strip()): False}


def test_cli_creates_a_client_with_back_channel_logout_and_a_pairwise_sector(cli_env: dict[str, str]) -> None:
    r = CliRunner().invoke(main, [
        "client", "create", "--name", "Fjord Forum", "--redirect-uri", "https://a.fjord.example/cb",
        "--post-logout-redirect-uri", "https://a.fjord.example/bye",
        "--backchannel-logout-uri", "https://a.fjord.example/logout", "--backchannel-logout-session-required",
        "--subject-type", "pairwise", "--sector-identifier-uri", "https://fjord.example/sector.json",
        "--token-endpoint-auth-method", "client_secret_post",
        "--grant-type", "authorization_code", "--grant-type", "refresh_token"], env=cli_env)
    assert r.exit_code == 0, r.output
    creds = json.loads(r.output)
    assert creds["backchannel_logout_uri"] == "https://a.fjord.example/logout"
    assert creds["backchannel_logout_session_required"] is True
    assert creds["sector_identifier_uri"] == "https://fjord.example/sector.json"
    assert creds["token_endpoint_auth_method"] == "client_secret_post" and creds["client_secret"]
    assert creds["post_logout_redirect_uris"] == ["https://a.fjord.example/bye"]
    assert creds["grant_types"] == ["authorization_code", "refresh_token"]

    bad = CliRunner().invoke(main, ["client", "create", "--name", "X", "--redirect-uri", "https://x.example/cb",
                                    "--backchannel-logout-uri", "http://x.example/logout"], env=cli_env)
    assert bad.exit_code == 1 and "backchannel_logout_uri must use https" in bad.output
    assert "Traceback" not in bad.output


def test_cli_refuses_a_secret_looking_label_before_minting(cli_env: dict[str, str]) -> None:
    from hub.persistence.db import Database

    refused = CliRunner().invoke(main, ["client", "initial-token", "--label", "sk_live_" + "A1b2C3d4" * 5],
                                 env=cli_env)
    assert refused.exit_code == 2 and "--label" in refused.output and "Traceback" not in refused.output
    db = Database(cli_env["CURBSIDE_DATABASE_URL"])
    with db.session() as s:
        assert not [t for t in s.scalars(select(InitialAccessToken)) if t.label.startswith("sk_live_")]
    db.engine.dispose()
