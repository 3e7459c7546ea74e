"""A federation member has no client secret: it introspects (RFC 7662) and revokes
(RFC 7009) its own tokens with private_key_jwt (RFC 7523 §2.2), through Authlib's client,
whose assertion names the endpoint it is sent to as its audience."""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from tests.flows.conftest import Browser, RunningHub, callback_params
from tests.flows.federation_net import Member, PartnerBackEnd, fed_hub, net, new_network

__all__ = ["fed_hub", "net"]  # the fixtures


def _member_client(rp: Member) -> OAuth2Session:
    assert rp.oauth_key is not None
    session = OAuth2Session(rp.id, rp.oauth_key, token_endpoint_auth_method="private_key_jwt",
                            revocation_endpoint_auth_method="private_key_jwt")
    # No fixed endpoint: the assertion's audience is the URL of each request.
    session.register_client_auth_method(PrivateKeyJWT(headers={"kid": rp.oauth_key.kid}))
    return session


def _signed_in(hub: RunningHub, net: Any, name: str) -> tuple[Member, dict[str, Any]]:
    rp = new_network(net, name)
    partner = PartnerBackEnd(hub, rp)
    browser = Browser(hub)
    done = browser.through(browser.get(partner.authorization_url()), hub.doctor().email)
    return rp, partner.token(callback_params(done)["code"])


def test_a_member_introspects_and_revokes_its_token_with_its_key(fed_hub: RunningHub, net: Any) -> None:
    metadata = fed_hub.metadata()
    assert "private_key_jwt" in metadata["revocation_endpoint_auth_methods_supported"]
    assert "private_key_jwt" in metadata["introspection_endpoint_auth_methods_supported"]
    rp, token = _signed_in(fed_hub, net, "revoker")
    client = _member_client(rp)

    seen = client.introspect_token(f"{fed_hub.issuer}/introspect", token=token["access_token"])
    assert seen.status_code == 200, seen.text
    assert seen.json()["active"] is True and seen.json()["client_id"] == rp.id

    revoked = client.revoke_token(f"{fed_hub.issuer}/revoke", token=token["access_token"],
                                  token_type_hint="access_token")
    assert revoked.status_code == 200, revoked.text
    after = client.introspect_token(f"{fed_hub.issuer}/introspect", token=token["access_token"])
    assert after.json() == {"active": False}
    userinfo = requests.get(f"{fed_hub.issuer}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {token['access_token']}"})
    assert userinfo.status_code == 401


def test_another_members_key_does_not_reach_a_token(fed_hub: RunningHub, net: Any) -> None:
    _, token = _signed_in(fed_hub, net, "owner")
    stranger, _ = _signed_in(fed_hub, net, "stranger")
    # RFC 7662 §2.2 / RFC 7009 §2.1: a client learns nothing of, and cannot revoke, another's token.
    seen = _member_client(stranger).introspect_token(f"{fed_hub.issuer}/introspect",
                                                     token=token["access_token"])
    assert seen.status_code == 200 and seen.json() == {"active": False}
    _member_client(stranger).revoke_token(f"{fed_hub.issuer}/revoke", token=token["access_token"])
    owner_view = fed_hub.hub.tokens.find_access_token(token["access_token"])
    assert owner_view is not None
