"""Every refusal of issue 18's "Bad input" list, through the hub on a real socket: a network
asks to join by automatic registration (OpenID Federation 1.0 section 12.1) and the hub
answers with the standard error code and a reason on its error page, never a 500. The
federation around it (anchor, intermediates, leaves) is built in the test and served by a
small HTTP server that can also misbehave: garbage, oversized or slow answers."""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from collections.abc import Iterator

import pytest
import requests
from joserfc.jwk import ECKey

from federation import (
    ENTITY_STATEMENT_MEDIA_TYPE,
    build_subordinate_statement,
    build_trust_mark,
)
from hub.persistence.models.registers import SelfDeclaredProfession
from hub.relying.policy import store
from tests.federation.unruly_net import UnrulyNetwork
from tests.flows.conftest import Browser, RunningHub, callback_params
from tests.flows.federation_net import Member, PartnerBackEnd, fed_hub, new_network

__all__ = ["fed_hub"]  # the fixture
MARK = "https://curbside.example/trust-marks/verified-physicians-only"


@pytest.fixture(scope="module")
def net() -> Iterator[UnrulyNetwork]:
    n = UnrulyNetwork()
    anchor = n.authority("anchor", trust_mark_issuers={MARK: []})
    intermediate = n.authority("regional", hints=[anchor.id])
    n.enrol(anchor, intermediate)
    n.anchor, n.intermediate = anchor, intermediate  # type: ignore[attr-defined]
    yield n
    n.close()


def _refusal(hub: RunningHub, rp: Member) -> requests.Response:
    resp = Browser(hub).get(PartnerBackEnd(hub, rp).authorization_url())
    assert resp.status_code != 500
    assert hub.hub.clients.get(rp.id) is None  # nobody was registered
    return resp


def _assert_refused(resp: requests.Response, error: str, *reason: str) -> None:
    """The refusal page names the error code after the reason: "<reason> (<error>)"."""
    assert resp.status_code == 400, resp.text[:500]
    found = re.search(r"<p[^>]*>([^<]*) \((invalid_[a-z_]+)\)</p>", resp.text)
    assert found is not None, resp.text[:2000]
    said, code = html.unescape(found.group(1)), found.group(2)
    assert code == error, said
    for words in reason:
        assert words in said, said


def test_an_expired_subordinate_statement(fed_hub: RunningHub, net: UnrulyNetwork) -> None:
    rp = net.relying_party(f"stale-{secrets.token_hex(3)}", hints=[net.intermediate.id])  # type: ignore[attr-defined]
    net.enrol(net.intermediate, rp, lifetime=-120)  # type: ignore[attr-defined]
    _assert_refused(_refusal(fed_hub, rp), "invalid_trust_anchor", "has expired")


def test_an_expired_entity_configuration(fed_hub: RunningHub, net: UnrulyNetwork) -> None:
    rp = new_network(net, "lapsed")
    rp.lifetime = -120
    _assert_refused(_refusal(fed_hub, rp), "invalid_trust_chain", "expired")


def test_a_statement_signed_by_someone_else(fed_hub: RunningHub, net: UnrulyNetwork) -> None:
    intermediate = net.intermediate  # type: ignore[attr-defined]
    rp = new_network(net, "forged")
    forger = ECKey.generate_key("P-256", auto_kid=True)
    net.raw[net.fetch_url(intermediate, rp)] = build_subordinate_statement(
        intermediate.id, rp.id, key=forger, subject_jwks=rp.jwks, now=int(time.time())).encode()
    _assert_refused(_refusal(fed_hub, rp), "invalid_trust_chain", "no key with kid")


def test_a_statement_that_is_not_a_jwt(fed_hub: RunningHub, net: UnrulyNetwork) -> None:
    intermediate = net.intermediate  # type: ignore[attr-defined]
    rp = new_network(net, "garbled")
    net.raw[net.fetch_url(intermediate, rp)] = b"<html>Service unavailable</html>"
    _assert_refused(_refusal(fed_hub, rp), "invalid_trust_anchor", "not a compact JWS")


def test_a_loop_in_authority_hints(fed_hub: RunningHub, net: UnrulyNetwork) -> None:
    tag = secrets.token_hex(3)
    a = net.authority(f"loop-a-{tag}")
    b = net.authority(f"loop-b-{tag}", hints=[a.id])
    a.authority_hints = [b.id]
    net.enrol(a, b)
    net.enrol(b, a)
    rp = new_network(net, "looped", superior=a)
    _assert_refused(_refusal(fed_hub, rp), "invalid_trust_anchor", "loop")


def test_a_chain_longer_than_six_entities(fed_hub: RunningHub, net: UnrulyNetwork) -> None:
    superior = net.anchor  # type: ignore[attr-defined]
    for depth in range(6):  # anchor, six intermediates, the leaf: eight entities
        below = net.authority(f"deep{depth}-{secrets.token_hex(3)}", hints=[superior.id])
        net.enrol(superior, below)
        superior = below
    rp = new_network(net, "deep", superior=superior)
    _assert_refused(_refusal(fed_hub, rp), "invalid_trust_anchor", "longer than")


def test_max_path_length_set_by_the_anchor(fed_hub: RunningHub, net: UnrulyNetwork) -> None:
    anchor = net.anchor  # type: ignore[attr-defined]
    top = net.authority(f"bounded-{secrets.token_hex(3)}", hints=[anchor.id])
    net.enrol(anchor, top, constraints={"max_path_length": 1})
    middle = net.authority(f"middle-{secrets.token_hex(3)}", hints=[top.id])
    net.enrol(top, middle)
    rp = new_network(net, "too-far", superior=middle)
    _assert_refused(_refusal(fed_hub, rp), "invalid_trust_chain", "at most 1 intermediate(s) below it")
    # Directly under the bounded intermediate the same network is fine.
    ok = new_network(net, "near", superior=top)
    page = Browser(fed_hub).get(PartnerBackEnd(fed_hub, ok).authorization_url())
    assert page.status_code == 200 and 'action="/login"' in page.text


def test_naming_constraints_set_by_the_anchor(fed_hub: RunningHub, net: UnrulyNetwork) -> None:
    anchor = net.anchor  # type: ignore[attr-defined]
    named = net.authority(f"named-{secrets.token_hex(3)}", hints=[anchor.id])
    net.enrol(anchor, named, constraints={"naming_constraints": {"permitted": [".nhs.example"]}})
    rp = new_network(net, "misnamed", superior=named)
    _assert_refused(_refusal(fed_hub, rp), "invalid_trust_chain", "outside the namespaces")


# The library's cap per statement (64 KiB), then the outbound client's cap per answer.
@pytest.mark.parametrize(("size", "says"), [(100 * 1024, "larger than 65536 bytes"),
                                            (1024 * 1024, "the answer was too large")])
def test_an_oversized_statement(fed_hub: RunningHub, net: UnrulyNetwork, size: int, says: str) -> None:
    intermediate = net.intermediate  # type: ignore[attr-defined]
    rp = new_network(net, "bloated")
    net.raw[net.fetch_url(intermediate, rp)] = b"e" * size
    _assert_refused(_refusal(fed_hub, rp), "invalid_trust_anchor", says)


def test_a_superior_that_answers_too_slowly(fed_hub: RunningHub, net: UnrulyNetwork) -> None:
    intermediate = net.intermediate  # type: ignore[attr-defined]
    rp = new_network(net, "sluggish")
    net.delay[net.fetch_url(intermediate, rp)] = 2.5
    fed = fed_hub.hub.federation
    fed.fetch_deadline, before = 1.0, fed.fetch_deadline
    try:
        started = time.monotonic()
        resp = _refusal(fed_hub, rp)
        assert time.monotonic() - started < 2.4  # the hub did not wait for the answer
    finally:
        fed.fetch_deadline = before
    _assert_refused(resp, "invalid_trust_anchor", "did not answer in time")


def test_refusals_at_explicit_registration_are_json(fed_hub: RunningHub, net: UnrulyNetwork) -> None:
    intermediate = net.intermediate  # type: ignore[attr-defined]
    rp = new_network(net, "explicit-forged")
    net.raw[net.fetch_url(intermediate, rp)] = b"not a statement"
    body = net.configuration(rp, aud=fed_hub.issuer)
    resp = requests.post(f"{fed_hub.issuer}/federation/register", data=body, timeout=10,
                         headers={"Content-Type": ENTITY_STATEMENT_MEDIA_TYPE})
    # Section 8.9: invalid_trust_anchor is a 404.
    assert resp.status_code == 404 and resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["error"] == "invalid_trust_anchor"
    assert "not a compact JWS" in resp.json()["error_description"]
    assert fed_hub.hub.clients.get(rp.id) is None


# -- trust marks: a policy that requires one refuses marks that do not count ----------------
POLICY = {"version": 1, "claims": {"allowed": ["sub"]}, "access": {"min_assurance_level": "self_declared"},
          "require_trust_marks": [MARK]}


def _doctor(hub: RunningHub) -> str:
    doctor = hub.doctor()
    with hub.hub.db.session() as s:
        s.add(SelfDeclaredProfession(doctor_id=doctor.id, profession="physician"))
    return str(doctor.email)


def _sign_in(hub: RunningHub, rp: Member) -> requests.Response:
    browser = Browser(hub)
    return browser.through(browser.get(PartnerBackEnd(hub, rp).authorization_url()), _doctor(hub))


def _marked(net: UnrulyNetwork, name: str, *, issuer: Member, issued: int, lifetime: int) -> Member:
    rp = new_network(net, name)
    rp.trust_marks = [{"trust_mark_type": MARK, "trust_mark": build_trust_mark(
        issuer=issuer.id, subject=rp.id, trust_mark_type=MARK, key=issuer.key, now=issued,
        lifetime=lifetime)}]
    return rp


def _with_policy(hub: RunningHub, rp: Member) -> None:
    # The network joins first (the operator gives a policy to a known client).
    assert "code" in callback_params(_sign_in(hub, rp))
    store(hub.hub).set(rp.id, POLICY, actor="test")


def test_a_current_mark_from_a_recognised_issuer_counts(fed_hub: RunningHub, net: UnrulyNetwork) -> None:
    anchor = net.anchor  # type: ignore[attr-defined]
    rp = _marked(net, "marked", issuer=anchor, issued=int(time.time()), lifetime=3600)
    _with_policy(fed_hub, rp)
    assert "code" in callback_params(_sign_in(fed_hub, rp))


@pytest.mark.parametrize("case", ["expired", "unrecognised issuer"])
def test_a_mark_that_does_not_count(fed_hub: RunningHub, net: UnrulyNetwork, case: str) -> None:
    anchor = net.anchor  # type: ignore[attr-defined]
    if case == "expired":
        rp = _marked(net, "mark-expired", issuer=anchor, issued=int(time.time()) - 7200, lifetime=3600)
    else:
        # An issuer the anchor does not list for the type (it lists only itself below).
        stranger = net.authority(f"mark-mill-{secrets.token_hex(3)}", hints=[anchor.id])
        net.enrol(anchor, stranger)
        anchor.trust_mark_issuers = {MARK: [anchor.id]}
        rp = _marked(net, "mark-stranger", issuer=stranger, issued=int(time.time()), lifetime=3600)
    try:
        _with_policy(fed_hub, rp)
        refused = _sign_in(fed_hub, rp)
    finally:
        anchor.trust_mark_issuers = {MARK: []}
    assert refused.status_code == 403 and "trust mark" in refused.text


def test_federation_discovery_lists_what_members_use(fed_hub: RunningHub) -> None:
    meta = fed_hub.metadata()
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    assert meta["token_endpoint_auth_methods_supported"].count("private_key_jwt") == 1
    assert "ES256" in meta["token_endpoint_auth_signing_alg_values_supported"]
    assert meta["request_parameter_supported"] is True
    assert "RS256" in meta["request_object_signing_alg_values_supported"]
    assert meta["client_registration_types_supported"] == ["automatic", "explicit"]
    assert json.loads(json.dumps(meta))["federation_registration_endpoint"] == \
        f"{fed_hub.issuer}/federation/register"
