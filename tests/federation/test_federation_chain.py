"""Trust chain validation (sections 4, 6.2 and 10.2) on chains built here: anchor,
intermediate(s) and a leaf RP."""

from __future__ import annotations

import pytest
from federation_fakes import INT, LEAF, NOW, TA, FakeFederation, new_key

from federation import (
    InvalidMetadata,
    InvalidTrustAnchor,
    InvalidTrustChain,
    PolicyError,
    public_jwks,
    validate_trust_chain,
)

RP = "openid_relying_party"


def _validate(fed: FakeFederation, *path: str, **kwargs):
    return validate_trust_chain(fed.chain(*path), trust_anchors=fed.anchors(), now=fed.now, **kwargs)


def test_a_valid_three_level_chain(fed) -> None:
    chain = _validate(fed, LEAF, INT, TA)
    assert chain.subject == LEAF and chain.trust_anchor_id == TA and chain.immediate_superior == INT
    assert chain.metadata[RP]["redirect_uris"] == [LEAF + "/callback"]
    assert chain.anchor_configuration is not None and chain.anchor_configuration.sub == TA
    assert len(chain.tokens) == 4


def test_the_chain_may_omit_the_anchor_configuration(fed) -> None:
    tokens = fed.chain(LEAF, INT, TA)[:-1]
    chain = validate_trust_chain(tokens, trust_anchors=fed.anchors(), now=fed.now)
    assert chain.trust_anchor_id == TA and chain.anchor_configuration is None


def test_chain_expiry_is_the_earliest_statement_expiry(fed) -> None:
    fed.enrol(INT, LEAF, lifetime=300)
    assert _validate(fed, LEAF, INT, TA).exp == NOW + 300


def test_an_expired_statement_anywhere_invalidates_the_chain(fed) -> None:
    fed.enrol(TA, INT, now=NOW - 90000)  # issued long ago, lifetime one day
    with pytest.raises(InvalidTrustChain, match=f"by {TA} about {INT} has expired"):
        _validate(fed, LEAF, INT, TA)


def test_a_statement_issued_in_the_future_is_refused(fed) -> None:
    fed.enrol(INT, LEAF, now=NOW + 3600)
    with pytest.raises(InvalidTrustChain, match="future"):
        _validate(fed, LEAF, INT, TA)


def test_an_untrusted_anchor_is_refused(fed) -> None:
    tokens = fed.chain(LEAF, INT, TA)
    other = fed.authority("https://other-anchor.example.org")
    with pytest.raises(InvalidTrustAnchor, match="not a trusted trust anchor"):
        validate_trust_chain(tokens, trust_anchors={other.id: other.jwks}, now=fed.now)


def test_the_anchor_must_sign_with_its_configured_keys(fed) -> None:
    tokens = fed.chain(LEAF, INT, TA)
    with pytest.raises(InvalidTrustChain, match="trust anchor"):
        validate_trust_chain(tokens, trust_anchors={TA: public_jwks(new_key())}, now=fed.now)


def test_a_statement_signed_by_the_wrong_superior_key_is_refused(fed) -> None:
    fed.enrol(INT, LEAF, key=new_key())  # not a key the anchor vouches for
    with pytest.raises(InvalidTrustChain, match=f"{INT} has no key with kid"):
        _validate(fed, LEAF, INT, TA)


def test_the_superior_must_vouch_for_the_subject_keys(fed) -> None:
    fed.enrol(INT, LEAF, subject_jwks=public_jwks(new_key()))  # intermediate names other keys
    with pytest.raises(InvalidTrustChain, match="no key with kid"):
        _validate(fed, LEAF, INT, TA)


def test_statements_out_of_order_are_refused(fed) -> None:
    leaf, int_stmt, ta_stmt, ta = fed.chain(LEAF, INT, TA)
    with pytest.raises(InvalidTrustChain, match="followed by"):
        validate_trust_chain([leaf, ta_stmt, int_stmt, ta], trust_anchors=fed.anchors(), now=fed.now)


def test_a_chain_must_start_with_the_subject_configuration(fed) -> None:
    tokens = fed.chain(LEAF, INT, TA)
    with pytest.raises(InvalidTrustChain, match="begin"):
        validate_trust_chain(tokens[1:], trust_anchors=fed.anchors(), now=fed.now)


def test_the_immediate_superior_must_be_an_authority_hint(fed) -> None:
    fed.entities[LEAF].authority_hints = ["https://elsewhere.example.org"]
    with pytest.raises(InvalidTrustChain, match="authority_hints"):
        _validate(fed, LEAF, INT, TA)


def test_a_chain_that_names_an_entity_twice_is_a_loop(fed) -> None:
    leaf, int_stmt, ta_stmt, ta = fed.chain(LEAF, INT, TA)
    with pytest.raises(InvalidTrustChain, match="loop"):
        validate_trust_chain([leaf, int_stmt, ta_stmt, ta_stmt, ta], trust_anchors=fed.anchors(), now=fed.now)


def test_an_anchor_is_its_own_chain(fed) -> None:
    chain = validate_trust_chain([fed.entities[TA].configuration(fed.now)], trust_anchors=fed.anchors(), now=fed.now)
    assert chain.subject == TA and chain.metadata["federation_entity"]["federation_fetch_endpoint"]


# ----------------------------------------------------------------------------- metadata


def test_policies_from_anchor_and_intermediate_are_merged_and_applied(fed) -> None:
    fed.enrol(TA, INT, metadata_policy={RP: {"grant_types": {"default": ["authorization_code"],
                                                             "subset_of": ["authorization_code", "refresh_token"]},
                                             "contacts": {"add": ["ops@anchor.example.org"]}}})
    fed.enrol(INT, LEAF, metadata_policy={RP: {"grant_types": {"subset_of": ["authorization_code"]}}},
              metadata={RP: {"policy_uri": "https://intermediate.example.org/policy"}})
    chain = _validate(fed, LEAF, INT, TA)
    rp = chain.metadata[RP]
    assert rp["grant_types"] == ["authorization_code"]
    assert rp["contacts"] == ["ops@anchor.example.org"]
    assert rp["policy_uri"] == "https://intermediate.example.org/policy"
    assert chain.policy is not None and chain.policy[RP]["grant_types"]["subset_of"] == ["authorization_code"]


def test_an_intermediate_cannot_loosen_the_anchor_policy(fed) -> None:
    fed.enrol(TA, INT, metadata_policy={RP: {"token_endpoint_auth_method": {"value": "private_key_jwt"}}})
    fed.enrol(INT, LEAF, metadata_policy={RP: {"token_endpoint_auth_method": {"value": "client_secret_basic"}}})
    with pytest.raises(PolicyError) as caught:
        _validate(fed, LEAF, INT, TA)
    assert caught.value.error == "invalid_metadata"


def test_metadata_that_violates_the_policy_invalidates_the_chain(fed) -> None:
    fed.enrol(TA, INT, metadata_policy={RP: {"token_endpoint_auth_method": {"one_of": ["self_signed_tls_client_auth"]}}})
    with pytest.raises(InvalidMetadata, match="token_endpoint_auth_method"):
        _validate(fed, LEAF, INT, TA)


def test_superior_metadata_applies_only_to_its_direct_subject(fed) -> None:
    # The anchor's metadata about the intermediate does not reach the leaf.
    fed.enrol(TA, INT, metadata={RP: {"client_name": "from the anchor"}})
    assert "client_name" not in _validate(fed, LEAF, INT, TA).metadata[RP]


def test_allowed_entity_types_removes_other_types_but_not_federation_entity(fed) -> None:
    fed.entities[LEAF].metadata["openid_provider"] = {"issuer": LEAF}
    fed.entities[LEAF].metadata["federation_entity"] = {"organization_name": "RP"}
    fed.enrol(TA, INT, constraints={"allowed_entity_types": ["openid_relying_party"]})
    metadata = _validate(fed, LEAF, INT, TA).metadata
    assert set(metadata) == {"openid_relying_party", "federation_entity"}


def test_allowed_entity_types_removal_happens_before_policy(fed) -> None:
    fed.entities[LEAF].metadata["openid_provider"] = {}
    fed.enrol(TA, INT, constraints={"allowed_entity_types": ["openid_relying_party"]},
              metadata_policy={"openid_provider": {"issuer": {"essential": True}}})
    assert "openid_provider" not in _validate(fed, LEAF, INT, TA).metadata


def test_a_critical_policy_operator_we_do_not_know_invalidates_the_chain(fed) -> None:
    fed.enrol(TA, INT, metadata_policy={RP: {"client_name": {"regexp": "^x"}}}, metadata_policy_crit=["regexp"])
    with pytest.raises(PolicyError, match="regexp"):
        _validate(fed, LEAF, INT, TA)


# ----------------------------------------------------------------------------- constraints

I1, I2 = "https://i1.example.org", "https://i2.example.org"


def _four_level(fed: FakeFederation) -> FakeFederation:
    """Section 6.2.1's example: LE <- I1 <- I2 <- TA."""
    fed.authority(I2, authority_hints=[TA])
    fed.authority(I1, authority_hints=[I2])
    fed.entities[LEAF].authority_hints = [I1]
    fed.enrol(TA, I2)
    fed.enrol(I2, I1)
    fed.enrol(I1, LEAF)
    return fed


@pytest.mark.parametrize(("ta", "i2", "i1", "ok"), [
    # Section 6.2.1's examples of a chain that fulfils / does not fulfil the constraints
    (2, None, None, True),
    (3, None, None, True),
    (2, 1, None, True),
    (None, None, 0, True),
    (1, None, None, False),
    (None, 0, None, False),
])
def test_max_path_length_spec_examples(fed, ta, i2, i1, ok) -> None:
    _four_level(fed)
    for (issuer, subject), mpl in (((TA, I2), ta), ((I2, I1), i2), ((I1, LEAF), i1)):
        if mpl is not None:
            fed.enrol(issuer, subject, constraints={"max_path_length": mpl})
    if ok:
        assert _validate(fed, LEAF, I1, I2, TA).subject == LEAF
    else:
        with pytest.raises(InvalidTrustChain, match="intermediate"):
            _validate(fed, LEAF, I1, I2, TA)


@pytest.mark.parametrize(("naming", "ok"), [
    ({"permitted": [".example.org"]}, True),
    ({"permitted": [".example.com"]}, False),
    ({"permitted": ["rp.example.org", "intermediate.example.org"]}, True),
    ({"permitted": ["rp.example.org"]}, False),  # the intermediate itself is below the anchor too
    ({"permitted": [".example.org"], "excluded": ["rp.example.org"]}, False),  # excluded wins
    ({"excluded": [".other.example.org"]}, True),
    ({"permitted": [".RP.example.org", ".example.ORG"]}, True),  # DNS names ignore case
])
def test_naming_constraints(fed, naming, ok) -> None:
    fed.enrol(TA, INT, constraints={"naming_constraints": naming})
    if ok:
        _validate(fed, LEAF, INT, TA)
    else:
        with pytest.raises(InvalidTrustChain, match="namespace"):
            _validate(fed, LEAF, INT, TA)


def test_a_dot_constraint_needs_at_least_one_more_label() -> None:
    from federation import name_matches

    assert name_matches("host.example.com", ".example.com")
    assert name_matches("my.host.example.com", ".example.com")
    assert not name_matches("example.com", ".example.com")
    assert not name_matches("badexample.com", ".example.com")
    assert name_matches("host.example.com", "host.example.com")
    assert not name_matches("my.host.example.com", "host.example.com")


def test_intermediate_naming_constraint_applies_below_it_only(fed) -> None:
    fed.enrol(INT, LEAF, constraints={"naming_constraints": {"permitted": ["rp.example.org"]}})
    _validate(fed, LEAF, INT, TA)


def test_over_long_chains_are_refused_before_any_signature_check() -> None:
    fed = FakeFederation()
    fed.authority(TA)
    path = [LEAF] + [f"https://i{n}.example.org" for n in range(6)] + [TA]
    for below, above in zip(path, path[1:], strict=False):
        if above != TA:
            fed.authority(above, authority_hints=[path[path.index(above) + 1]])
        fed.enrol(above, below)
    fed.leaf(LEAF, authority_hints=[path[1]])
    tokens = fed.chain(*path)  # 8 entities
    with pytest.raises(InvalidTrustChain, match="longer than 6 entities"):
        validate_trust_chain(tokens, trust_anchors=fed.anchors(), now=fed.now)
    with pytest.raises(InvalidTrustChain, match="longer than 6 entities"):
        validate_trust_chain(tokens[:-1], trust_anchors=fed.anchors(), now=fed.now)
    assert validate_trust_chain(tokens, trust_anchors=fed.anchors(), now=fed.now, max_chain_length=8).subject == LEAF
