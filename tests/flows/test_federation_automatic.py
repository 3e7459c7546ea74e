"""OpenID Federation 1.0 automatic registration (section 12.1) through real sockets: a
trust anchor, an intermediate and partner networks served by a tiny HTTP server, the hub
on its own socket, a doctor's browser, and the partner's back end on Authlib's client
(private_key_jwt) with a request object signed by joserfc."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from joserfc import jwt
from joserfc.jwk import KeySet

from federation import ENTITY_STATEMENT_MEDIA_TYPE, parse_entity_statement
from hub.persistence.models.federation import FederationRegistration
from hub.settings import Settings, SettingsError
from tests.flows.conftest import Browser, RunningHub, callback_params
from tests.flows.federation_net import Network, PartnerBackEnd, fed_hub, net, new_network

__all__ = ["fed_hub", "net"]  # the fixtures
_network = new_network


def test_entity_configuration_is_self_signed_with_federation_keys(fed_hub: RunningHub, net: Network) -> None:
    resp = requests.get(f"{fed_hub.issuer}/.well-known/openid-federation", timeout=5)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith(ENTITY_STATEMENT_MEDIA_TYPE)
    statement = parse_entity_statement(resp.text)
    statement.verify(statement.jwks)  # self-signed (section 3)
    assert statement.iss == statement.sub == fed_hub.issuer
    assert statement.authority_hints == [net.anchor.id]  # type: ignore[attr-defined]
    op = statement.metadata["openid_provider"]
    assert op["client_registration_types_supported"] == ["automatic", "explicit"]
    assert op["federation_registration_endpoint"] == f"{fed_hub.issuer}/federation/register"
    assert op["issuer"] == fed_hub.issuer and op["token_endpoint"] == f"{fed_hub.issuer}/token"
    assert "private_key_jwt" in op["token_endpoint_auth_methods_supported"]
    assert "federation_entity" in statement.metadata
    # Federation keys are not the token-signing keys (section 3.1.1).
    token_kids = {k["kid"] for k in requests.get(f"{fed_hub.issuer}/jwks", timeout=5).json()["keys"]}
    assert not token_kids & {k["kid"] for k in statement.jwks["keys"]}


def test_network_joins_by_trust_and_a_doctor_signs_in(fed_hub: RunningHub, net: Network) -> None:
    rp = _network(net, "clinic")
    doctor = fed_hub.doctor()
    partner = PartnerBackEnd(fed_hub, rp)
    browser = Browser(fed_hub)
    done = browser.through(browser.get(partner.authorization_url()), doctor.email)
    params = callback_params(done)
    assert done.headers["Location"].startswith(partner.redirect_uri)
    assert params["state"] == partner.state and params["iss"] == fed_hub.issuer
    token = partner.token(params["code"])
    jwks = KeySet.import_key_set(requests.get(f"{fed_hub.issuer}/jwks", timeout=5).json())
    claims = jwt.decode(token["id_token"], jwks).claims
    assert claims["aud"] == rp.id and claims["iss"] == fed_hub.issuer and claims["nonce"] == partner.nonce
    # Registered with no admin step: active, automatic, on the anchor, until the chain expires.
    client = fed_hub.hub.clients.get(rp.id)
    assert client is not None and client.active
    with fed_hub.hub.db.session() as s:
        reg = s.get(FederationRegistration, rp.id)
        assert reg.kind == "automatic" and reg.trust_anchor == net.anchor.id  # type: ignore[attr-defined]
        assert reg.chain_expires_at <= datetime.now(UTC) + timedelta(hours=1, minutes=1)


def test_a_request_object_is_used_once(fed_hub: RunningHub, net: Network) -> None:
    rp = _network(net, "replay")
    partner = PartnerBackEnd(fed_hub, rp)
    ro = partner.request_object()
    browser = Browser(fed_hub)
    assert browser.get(partner.authorization_url(ro)).status_code == 200  # the login page
    again = browser.get(partner.authorization_url(ro))
    assert again.status_code == 400 and "used before" in again.text


def test_a_request_object_signed_with_another_key_is_refused(fed_hub: RunningHub, net: Network) -> None:
    from joserfc.jwk import RSAKey

    rp = _network(net, "forged")
    partner = PartnerBackEnd(fed_hub, rp)
    stranger = RSAKey.generate_key(2048, auto_kid=True, private=True)
    resp = Browser(fed_hub).get(partner.authorization_url(partner.request_object(_key=stranger)))
    assert resp.status_code == 400 and "invalid_request_object" in resp.text


def test_an_unsigned_request_is_refused(fed_hub: RunningHub, net: Network) -> None:
    rp = _network(net, "plain")
    url = f"{fed_hub.issuer}/authorize?" + urlencode({
        "client_id": rp.id, "response_type": "code", "scope": "openid",
        "redirect_uri": rp.metadata["openid_relying_party"]["redirect_uris"][0]})
    resp = Browser(fed_hub).get(url)
    assert resp.status_code == 400 and "request object" in resp.text


def test_a_network_under_an_unknown_anchor_is_not_admitted(fed_hub: RunningHub, net: Network) -> None:
    rogue_anchor = net.authority(f"rogue-{secrets.token_hex(3)}")
    rp = _network(net, "outsider", superior=rogue_anchor)
    resp = Browser(fed_hub).get(PartnerBackEnd(fed_hub, rp).authorization_url())
    assert resp.status_code == 400 and "invalid_trust_anchor" in resp.text
    assert fed_hub.hub.clients.get(rp.id) is None


def test_metadata_that_breaks_the_anchors_policy_is_refused(fed_hub: RunningHub, net: Network) -> None:
    anchor = net.anchor  # type: ignore[attr-defined]
    policed = net.authority(f"policed-{secrets.token_hex(3)}", hints=[anchor.id])
    net.enrol(anchor, policed, metadata_policy={
        "openid_relying_party": {"grant_types": {"subset_of": ["authorization_code"]},
                                 "scope": {"essential": True}}})
    rp = _network(net, "unpoliced", superior=policed)  # no scope in its metadata
    resp = Browser(fed_hub).get(PartnerBackEnd(fed_hub, rp).authorization_url())
    assert resp.status_code == 400 and "invalid_metadata" in resp.text


def test_a_network_whose_chain_no_longer_resolves_loses_access(fed_hub: RunningHub, net: Network) -> None:
    rp = _network(net, "leaving")
    partner = PartnerBackEnd(fed_hub, rp)
    browser = Browser(fed_hub)
    browser.through(browser.get(partner.authorization_url()), fed_hub.doctor().email)

    def token_error() -> tuple[int, str]:
        partner.verifier = "x" * 43
        try:
            partner.token("no-such-code")
        except OAuthError as e:
            return getattr(e, "error", ""), str(e)
        raise AssertionError("a bogus code was accepted")

    assert token_error()[0] == "invalid_grant"  # authenticated: the client is known
    # The intermediate stops vouching for it; once its chain expires it is resolved again.
    del net.statements[(net.intermediate.id, rp.id)]  # type: ignore[attr-defined]
    with fed_hub.hub.db.session() as s:
        s.get(FederationRegistration, rp.id).chain_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    fed_hub.hub.clients.forget(rp.id)
    assert token_error()[0] == "invalid_client"
    resp = Browser(fed_hub).get(partner.authorization_url())
    assert resp.status_code == 400 and "invalid_trust_anchor" in resp.text


@pytest.mark.parametrize(("name", "value", "says"), [
    ("CURBSIDE_FEDERATION_TRUST_ANCHORS", "{not json", "is not valid JSON"),
    ("CURBSIDE_FEDERATION_TRUST_ANCHORS", '["https://a.example"]', "must be a JSON object"),
    ("CURBSIDE_FEDERATION_TRUST_ANCHORS", '{"https://a.example": {"keys": []}}', "JWKS"),
    ("CURBSIDE_FEDERATION_AUTHORITY_HINTS", '"https://a.example"', "JSON list"),
    ("CURBSIDE_FEDERATION_AUTHORITY_HINTS", '["ftp://a.example"]', "entity identifier"),
])
def test_malformed_federation_settings_stop_the_start(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says) as info:
        Settings.from_env({"CURBSIDE_ISSUER": "https://hub.example", name: value})
    assert name in str(info.value) and "\n" not in str(info.value)
