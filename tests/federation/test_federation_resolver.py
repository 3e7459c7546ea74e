"""Trust chain collection (section 10.1) through the ``fetch`` callable: well-known
configurations, superiors' fetch endpoints, loops, length and fetch limits, caching."""

from __future__ import annotations

import pytest
from federation_fakes import INT, LEAF, NOW, TA, FakeFederation, new_key

from federation import (
    FederationError,
    FetchFailed,
    InvalidTrustAnchor,
    InvalidTrustChain,
    PolicyError,
    TrustChainResolver,
    build_entity_configuration,
    entity_configuration_url,
    fetch_request_url,
)

RP = "openid_relying_party"


def test_resolves_leaf_through_intermediate_to_anchor(fed) -> None:
    chain = fed.resolver().resolve(LEAF)
    assert [s.iss for s in chain.statements] == [LEAF, INT, TA, TA]
    assert chain.metadata[RP]["response_types"] == ["code"]
    assert sorted(fed.fetched) == sorted([
        entity_configuration_url(LEAF), entity_configuration_url(INT), entity_configuration_url(TA),
        fetch_request_url(TA + "/fetch", INT), fetch_request_url(INT + "/fetch", LEAF),
    ])


def test_fetch_url_keeps_the_endpoint_query() -> None:
    assert fetch_request_url("https://ta.example/fetch?tenant=a", "https://rp.example/x") == (
        "https://ta.example/fetch?tenant=a&sub=https%3A%2F%2Frp.example%2Fx")


def test_an_unknown_anchor_gives_invalid_trust_anchor_with_the_reason(fed) -> None:
    other = fed.authority("https://other.example.org")
    with pytest.raises(InvalidTrustAnchor) as caught:
        fed.resolver(other.id).resolve(LEAF)
    assert "is not a trusted trust anchor and names no superiors" in caught.value.description
    assert caught.value.error == "invalid_trust_anchor" and caught.value.status_code == 404


def test_asking_for_an_anchor_that_is_not_configured(fed) -> None:
    with pytest.raises(InvalidTrustAnchor, match="not a trusted"):
        fed.resolver().resolve(LEAF, trust_anchor="https://unknown.example.org")


def test_the_requested_anchor_is_the_one_used() -> None:
    fed = FakeFederation()
    for anchor in ("https://a1.example.org", "https://a2.example.org"):
        fed.authority(anchor)
        fed.enrol(anchor, LEAF)
    fed.leaf(LEAF, authority_hints=["https://a1.example.org", "https://a2.example.org"])
    resolver = fed.resolver("https://a1.example.org", "https://a2.example.org")
    assert resolver.resolve(LEAF, trust_anchor="https://a2.example.org").trust_anchor_id == "https://a2.example.org"


def test_the_shortest_valid_chain_wins() -> None:
    fed = FakeFederation()
    fed.authority(TA)
    fed.authority(INT, authority_hints=[TA])
    fed.leaf(LEAF, authority_hints=[INT, TA])
    fed.enrol(TA, INT)
    fed.enrol(INT, LEAF)
    fed.enrol(TA, LEAF)
    assert [s.iss for s in fed.resolver().resolve(LEAF).statements] == [LEAF, TA, TA]


def test_an_invalid_path_is_skipped_when_another_is_valid() -> None:
    fed = FakeFederation()
    fed.authority(TA)
    fed.authority(INT, authority_hints=[TA])
    fed.leaf(LEAF, authority_hints=[TA, INT])
    fed.enrol(TA, INT)
    fed.enrol(INT, LEAF)
    fed.enrol(TA, LEAF, key=new_key())  # the direct statement is badly signed
    chain = fed.resolver().resolve(LEAF)
    assert chain.immediate_superior == INT


def test_all_paths_invalid_raises_the_shortest_path_error() -> None:
    fed = FakeFederation()
    fed.authority(TA)
    fed.leaf(LEAF, authority_hints=[TA])
    fed.enrol(TA, LEAF, metadata_policy={RP: {"response_types": {"superset_of": ["id_token"]}}})
    with pytest.raises(PolicyError, match="response_types"):
        fed.resolver().resolve(LEAF)


def test_an_unreachable_superior_is_a_reason_not_a_crash(fed) -> None:
    fed.entities[LEAF].authority_hints = ["https://gone.example.org", INT]
    chain = fed.resolver().resolve(LEAF)
    assert chain.immediate_superior == INT


def test_an_unreachable_leaf_is_an_invalid_chain(fed) -> None:
    with pytest.raises(FetchFailed, match="404"):
        fed.resolver().resolve("https://nobody.example.org")


def test_loops_in_authority_hints_are_not_followed() -> None:
    fed = FakeFederation()
    fed.authority(TA)
    a, b = "https://a.example.org", "https://b.example.org"
    fed.authority(a, authority_hints=[b])
    fed.authority(b, authority_hints=[a])
    fed.leaf(LEAF, authority_hints=[a])
    fed.enrol(a, LEAF)
    fed.enrol(b, a)
    fed.enrol(a, b)
    with pytest.raises(InvalidTrustAnchor, match="loop"):
        fed.resolver().resolve(LEAF)
    assert len(fed.fetched) == len(set(fed.fetched))  # section 10.1: nothing fetched twice


def test_a_self_reference_is_a_loop(fed) -> None:
    fed.entities[LEAF].authority_hints = [LEAF]
    with pytest.raises(InvalidTrustAnchor, match="loop"):
        fed.resolver().resolve(LEAF)


def _ladder(depth: int) -> tuple[FakeFederation, list[str]]:
    """A leaf under ``depth`` intermediates under the anchor."""
    fed = FakeFederation()
    fed.authority(TA)
    above = TA
    ids = []
    for n in range(depth):
        entity_id = f"https://i{n}.example.org"
        fed.authority(entity_id, authority_hints=[above])
        fed.enrol(above, entity_id)
        ids.append(entity_id)
        above = entity_id
    fed.leaf(LEAF, authority_hints=[above])
    fed.enrol(above, LEAF)
    return fed, ids


def test_over_long_chains_are_refused() -> None:
    fed, _ = _ladder(5)  # leaf + 5 intermediates + anchor = 7 entities
    with pytest.raises(InvalidTrustAnchor, match="longer than 6"):
        fed.resolver().resolve(LEAF)
    assert len(fed.resolver(max_chain_length=7).resolve(LEAF).statements) == 8


def test_the_fetch_budget_stops_the_whole_resolution() -> None:
    fed, _ = _ladder(4)
    with pytest.raises(InvalidTrustChain, match="gave up after 5 fetches"):
        fed.resolver(max_fetches=5).resolve(LEAF)
    assert len(fed.fetched) == 5


def test_a_wide_fan_out_of_hints_is_bounded_by_the_budget() -> None:
    fed = FakeFederation()
    fed.authority(TA)
    fed.leaf(LEAF, authority_hints=[f"https://h{n}.example.org" for n in range(100)])
    with pytest.raises(InvalidTrustChain, match="gave up"):
        fed.resolver().resolve(LEAF)
    assert len(fed.fetched) == 24


def test_the_fetch_endpoint_must_answer_about_the_right_subject(fed) -> None:
    fed.overrides[fetch_request_url(INT + "/fetch", LEAF)] = fed.statement(TA, INT).encode()
    with pytest.raises(InvalidTrustAnchor, match="answered with a statement by"):
        fed.resolver().resolve(LEAF)


def test_a_configuration_published_for_another_entity_is_refused(fed) -> None:
    fed.overrides[entity_configuration_url(LEAF)] = fed.entities[INT].configuration(NOW).encode()
    with pytest.raises(InvalidTrustChain, match="published for"):
        fed.resolver().resolve(LEAF)


def test_a_superior_without_fetch_endpoint_is_a_reason(fed) -> None:
    del fed.entities[INT].metadata["federation_entity"]["federation_fetch_endpoint"]
    with pytest.raises(InvalidTrustAnchor, match="publishes no federation_fetch_endpoint"):
        fed.resolver().resolve(LEAF)


def test_the_anchor_configuration_must_match_its_configured_keys(fed) -> None:
    resolver = TrustChainResolver(trust_anchors={TA: {"keys": [new_key().as_dict(private=False)]}},
                                  fetch=fed.fetch, clock=lambda: fed.now)
    with pytest.raises(InvalidTrustAnchor, match="trust anchor"):
        resolver.resolve(LEAF)


def test_oversized_statements_are_refused(fed) -> None:
    fed.overrides[entity_configuration_url(INT)] = b"x" * 70000
    with pytest.raises(InvalidTrustAnchor, match="larger than"):
        fed.resolver().resolve(LEAF)


def test_garbage_from_a_superior_is_a_reason(fed) -> None:
    fed.overrides[entity_configuration_url(INT)] = b"<html>not found</html>"
    with pytest.raises(InvalidTrustAnchor, match="not a compact JWS"):
        fed.resolver().resolve(LEAF)


def test_plain_http_only_for_loopback_and_only_when_allowed() -> None:
    fed = FakeFederation()
    local_ta, local_rp = "http://127.0.0.1:8001", "http://localhost:8002"
    fed.authority(local_ta)
    fed.leaf(local_rp, authority_hints=[local_ta])
    fed.enrol(local_ta, local_rp)
    with pytest.raises(InvalidTrustChain, match="https"):
        fed.resolver(local_ta).resolve(local_rp)
    assert fed.resolver(local_ta, allow_http_loopback=True).resolve(local_rp).subject == local_rp
    with pytest.raises(InvalidTrustChain, match="https"):
        fed.resolver(local_ta, allow_http_loopback=True).resolve("http://rp.example.org")


def test_a_handed_in_configuration_is_not_fetched(fed) -> None:
    configuration = fed.entities[LEAF].configuration(NOW)
    chain = fed.resolver().resolve(LEAF, entity_configuration=configuration)
    assert chain.subject == LEAF
    assert entity_configuration_url(LEAF) not in fed.fetched


def test_a_handed_in_configuration_must_be_self_signed(fed) -> None:
    forged = build_entity_configuration(LEAF, key=new_key(), now=NOW, metadata={RP: {}}, authority_hints=[INT],
                                        jwks=fed.entities[LEAF].jwks)
    with pytest.raises(InvalidTrustChain, match="self-signed"):
        fed.resolver().resolve(LEAF, entity_configuration=forged)


def test_an_anchor_resolves_to_itself(fed) -> None:
    assert fed.resolver().resolve(TA).subject == TA


class DictCache:
    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, int]] = {}

    def get(self, key: str) -> bytes | None:
        hit = self.data.get(key)
        return hit[0] if hit else None

    def put(self, key: str, value: bytes, *, ttl: int) -> None:
        self.data[key] = (value, ttl)


def test_cached_statements_are_not_fetched_again_and_live_no_longer_than_they_are_valid(fed) -> None:
    fed.enrol(INT, LEAF, lifetime=120)
    cache = DictCache()
    resolver = fed.resolver(cache=cache)
    resolver.resolve(LEAF)
    first = len(fed.fetched)
    resolver.resolve(LEAF)
    assert len(fed.fetched) == first
    assert cache.data[fetch_request_url(INT + "/fetch", LEAF)][1] == 120
    assert max(ttl for _, ttl in cache.data.values()) <= 3600


def test_a_cached_statement_that_expired_meanwhile_is_still_refused(fed) -> None:
    fed.enrol(INT, LEAF, lifetime=120)
    cache = DictCache()
    fed.resolver(cache=cache).resolve(LEAF)
    fed.now += 600  # the cache did not evict it (a cache may be late): validation still catches it
    with pytest.raises(FederationError, match="expired"):
        fed.resolver(cache=cache).resolve(LEAF)
