"""A relying party may put its trust chain in the request object (OpenID Federation 1.0
section 12.1.1.1, ``trust_chain``): the hub validates it against its configured trust
anchors and admits the network without collecting the chain itself; a chain that does not
validate is refused with its reason. Through real sockets, as in test_hub_refusals."""

from __future__ import annotations

import html
import re
import secrets
import time
from collections.abc import Iterator

import pytest
import requests
from joserfc.jwk import ECKey

from federation import build_subordinate_statement
from hub.persistence.models.federation import FederationRegistration
from tests.federation.unruly_net import UnrulyNetwork
from tests.flows.conftest import Browser, RunningHub, callback_params
from tests.flows.federation_net import Member, PartnerBackEnd, anchored, fed_hub, new_network

__all__ = ["fed_hub"]  # the fixture


@pytest.fixture(scope="module")
def net() -> Iterator[UnrulyNetwork]:
    yield from anchored(UnrulyNetwork())


def _statement(superior: Member, subject: Member, key: ECKey | None = None) -> str:
    return build_subordinate_statement(superior.id, subject.id, key=key or superior.key,
                                       subject_jwks=subject.jwks, now=int(time.time()), lifetime=3600)


def _chain(net: UnrulyNetwork, rp: Member, *, forged: bool = False) -> list[str]:
    """rp's configuration, regional's statement about it, the anchor's about regional, the
    anchor's configuration (section 4)."""
    anchor, regional = net.anchor, net.intermediate  # type: ignore[attr-defined]
    forger = ECKey.generate_key("P-256", auto_kid=True) if forged else None
    return [net.configuration(rp), _statement(regional, rp, forger), _statement(anchor, regional),
            net.configuration(anchor)]


def _unreachable(net: UnrulyNetwork, rp: Member) -> None:
    # Collecting the chain would fail: only an offered chain can admit the network.
    net.raw[net.fetch_url(net.intermediate, rp)] = b"down for maintenance"  # type: ignore[attr-defined]


def _refusal(resp: requests.Response) -> tuple[str, str]:
    assert resp.status_code == 400, resp.text[:500]
    found = re.search(r"<p[^>]*>([^<]*) \((invalid_[a-z_]+)\)</p>", resp.text)
    assert found is not None, resp.text[:2000]
    return found.group(2), html.unescape(found.group(1))


def test_an_offered_chain_admits_the_network_without_fetching_it(fed_hub: RunningHub,
                                                                  net: UnrulyNetwork) -> None:
    rp = new_network(net, "offering")
    _unreachable(net, rp)
    chain = _chain(net, rp)
    partner = PartnerBackEnd(fed_hub, rp)
    browser = Browser(fed_hub)
    url = partner.authorization_url(partner.request_object(trust_chain=chain))
    done = browser.through(browser.get(url), fed_hub.doctor().email)
    token = partner.token(callback_params(done)["code"])
    assert token["id_token"]
    with fed_hub.hub.db.session() as s:
        reg = s.get(FederationRegistration, rp.id)
        assert reg.chain == chain and reg.trust_anchor == net.anchor.id  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", ["forged", "unknown anchor", "about someone else", "not an array"])
def test_an_offered_chain_that_does_not_validate_is_refused(fed_hub: RunningHub, net: UnrulyNetwork,
                                                           case: str) -> None:
    rp = new_network(net, "offering-bad")
    _unreachable(net, rp)
    if case == "forged":
        chain: object = _chain(net, rp, forged=True)
        expected = ("invalid_trust_chain", "no key with kid")
    elif case == "unknown anchor":
        rogue = net.authority(f"rogue-{secrets.token_hex(3)}")
        chain = [net.configuration(rp), _statement(rogue, rp), net.configuration(rogue)]
        expected = ("invalid_trust_anchor", "not a trusted trust anchor")
    elif case == "about someone else":
        other = new_network(net, "other")
        chain = _chain(net, other)
        expected = ("invalid_trust_chain", f"is about {other.id}")
    else:
        chain = net.configuration(rp)
        expected = ("invalid_trust_chain", "must be a non-empty array")
    partner = PartnerBackEnd(fed_hub, rp)
    resp = Browser(fed_hub).get(partner.authorization_url(partner.request_object(trust_chain=chain)))
    error, reason = _refusal(resp)
    assert error == expected[0] and expected[1] in reason, reason
    assert fed_hub.hub.clients.get(rp.id) is None
