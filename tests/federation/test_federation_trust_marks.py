"""Trust marks (section 7): issuer recognised by the anchor, signature, subject, expiry,
delegation by the trust mark owner; and through the resolver, trust in the issuer first."""

from __future__ import annotations

import pytest
from federation_fakes import INT, LEAF, NOW, TA, FakeFederation, new_key

from federation import (
    InvalidTrustMark,
    build_trust_mark,
    build_trust_mark_delegation,
    parse_entity_statement,
    public_jwks,
    verify_trust_mark,
)

VERIFIED = "https://anchor.example.org/trust-marks/verified-physicians"
TMI = "https://marks.example.org"
OWNER = "https://owner.example.org"
ISSUER_KEY, OWNER_KEY = new_key(), new_key()


def _anchor(issuers: dict | None = None, owners: dict | None = None):
    fed = FakeFederation()
    ta = fed.authority(TA, trust_mark_issuers={VERIFIED: [TMI]} if issuers is None else issuers,
                       trust_mark_owners=owners)
    return parse_entity_statement(ta.configuration(NOW))


def _mark(**kwargs) -> str:
    options = {"issuer": TMI, "subject": LEAF, "trust_mark_type": VERIFIED, "key": ISSUER_KEY, "now": NOW,
               "lifetime": 3600, **kwargs}
    return build_trust_mark(**options)


def _verify(token: str, anchor=None, jwks=None, now=NOW):
    return verify_trust_mark(token, entity_id=LEAF, issuer_jwks=jwks or public_jwks(ISSUER_KEY),
                             anchor_configuration=anchor or _anchor(), now=now)


def test_a_valid_trust_mark() -> None:
    mark = _verify(_mark(ref="https://marks.example.org/about"))
    assert mark.trust_mark_type == VERIFIED and mark.iss == TMI and mark.exp == NOW + 3600
    assert mark.as_entry() == {"trust_mark_type": VERIFIED, "trust_mark": mark.token}
    assert mark.header["typ"] == "trust-mark+jwt"


def test_a_trust_mark_without_exp_does_not_expire() -> None:
    assert _verify(_mark(lifetime=None), now=NOW + 10**8).exp is None


def test_expired_reports_the_expired_status() -> None:
    with pytest.raises(InvalidTrustMark) as caught:
        _verify(_mark(), now=NOW + 3600 + 61)
    assert caught.value.status == "expired" and caught.value.error == "invalid_client"


def test_issued_to_another_entity() -> None:
    with pytest.raises(InvalidTrustMark, match="not to https://rp.example.org"):
        _verify(_mark(subject="https://other.example.org"))


def test_an_issuer_the_anchor_does_not_accept() -> None:
    with pytest.raises(InvalidTrustMark, match="does not accept"):
        _verify(_mark(issuer="https://rogue.example.org"))


def test_a_type_the_anchor_does_not_recognise() -> None:
    with pytest.raises(InvalidTrustMark, match="does not recognise"):
        _verify(_mark(trust_mark_type="https://elsewhere.example.org/tm"))


def test_an_empty_issuer_list_lets_anyone_issue() -> None:
    anchor = _anchor(issuers={VERIFIED: []})
    _verify(_mark(issuer="https://anyone.example.org"), anchor=anchor)


def test_a_bad_signature() -> None:
    with pytest.raises(InvalidTrustMark, match="signature|no key"):
        _verify(_mark(key=new_key()))


def test_a_mark_with_the_wrong_typ_is_refused() -> None:
    from federation import build_entity_configuration

    statement = build_entity_configuration(TMI, key=ISSUER_KEY, now=NOW, metadata={})
    with pytest.raises(InvalidTrustMark, match="typ"):
        _verify(statement)


# ----------------------------------------------------------------------------- delegation

OWNERS = {VERIFIED: {"sub": OWNER, "jwks": public_jwks(OWNER_KEY)}}


def _delegation(**kwargs) -> str:
    options = {"owner": OWNER, "issuer": TMI, "trust_mark_type": VERIFIED, "key": OWNER_KEY, "now": NOW,
               **kwargs}
    return build_trust_mark_delegation(**options)


def test_a_delegated_trust_mark() -> None:
    mark = _verify(_mark(delegation=_delegation()), anchor=_anchor(owners=OWNERS))
    assert mark.delegation is not None


def test_an_owned_type_requires_a_delegation() -> None:
    with pytest.raises(InvalidTrustMark, match="carries no delegation"):
        _verify(_mark(), anchor=_anchor(owners=OWNERS))


@pytest.mark.parametrize(("delegation", "reason"), [
    ({"key": new_key()}, "no key with kid|signature"),
    ({"owner": "https://not-owner.example.org"}, "not by the owner"),
    ({"issuer": "https://another-issuer.example.org"}, "not for the issuer"),
    ({"trust_mark_type": "https://anchor.example.org/trust-marks/other"}, "another trust mark type"),
    ({"now": NOW - 7200, "lifetime": 3600}, "expired"),
])
def test_bad_delegations(delegation, reason) -> None:
    with pytest.raises(InvalidTrustMark, match=reason):
        _verify(_mark(delegation=_delegation(**delegation)), anchor=_anchor(owners=OWNERS))


def test_a_delegation_for_a_type_without_owner_cannot_be_validated() -> None:
    with pytest.raises(InvalidTrustMark, match="names no owner"):
        _verify(_mark(delegation=_delegation()))


# ----------------------------------------------------------------------------- via the resolver


def _federation_with_marks() -> FakeFederation:
    fed = FakeFederation()
    fed.authority(TA, trust_mark_issuers={VERIFIED: [TMI]})
    fed.authority(INT, authority_hints=[TA])
    issuer = fed.leaf(TMI, authority_hints=[TA], metadata={"federation_entity": {
        "organization_name": "marks", "federation_trust_mark_status_endpoint": TMI + "/status"}})
    fed.leaf(LEAF, authority_hints=[INT])
    fed.enrol(TA, INT)
    fed.enrol(INT, LEAF)
    fed.enrol(TA, TMI)
    token = build_trust_mark(issuer=TMI, subject=LEAF, trust_mark_type=VERIFIED, key=issuer.key, now=NOW,
                             lifetime=3600)
    fed.entities[LEAF].trust_marks = [{"trust_mark_type": VERIFIED, "trust_mark": token}]
    return fed


def test_resolver_trusts_the_issuer_through_its_own_chain() -> None:
    fed = _federation_with_marks()
    resolver = fed.resolver()
    chain = resolver.resolve(LEAF)
    marks = resolver.verified_trust_marks(chain)
    assert [m.trust_mark_type for m in marks] == [VERIFIED]


def test_resolver_drops_marks_whose_issuer_is_not_in_the_federation() -> None:
    fed = _federation_with_marks()
    del fed.statements[(TA, TMI)]  # the anchor no longer vouches for the issuer
    resolver = fed.resolver()
    chain = resolver.resolve(LEAF)
    assert resolver.verified_trust_marks(chain) == []
    with pytest.raises(InvalidTrustMark, match="not trusted"):
        resolver.verify_trust_mark(chain.subject_configuration.trust_marks[0]["trust_mark"], chain=chain)


def test_resolver_accepts_marks_the_anchor_itself_issued() -> None:
    fed = _federation_with_marks()
    anchor = fed.entities[TA]
    anchor.trust_mark_issuers = {VERIFIED: [TA]}
    token = build_trust_mark(issuer=TA, subject=LEAF, trust_mark_type=VERIFIED, key=anchor.key, now=NOW)
    fed.entities[LEAF].trust_marks = [{"trust_mark_type": VERIFIED, "trust_mark": token}]
    resolver = fed.resolver()
    chain = resolver.resolve(LEAF)
    assert [m.iss for m in resolver.verified_trust_marks(chain)] == [TA]


def test_resolver_fetches_the_anchor_configuration_when_the_chain_omits_it() -> None:
    fed = _federation_with_marks()
    resolver = fed.resolver()
    tokens = resolver.resolve(LEAF).tokens[:-1]  # as an RP may send it in a trust_chain header
    from federation import validate_trust_chain

    chain = validate_trust_chain(tokens, trust_anchors=fed.anchors(), now=NOW)
    assert chain.anchor_configuration is None
    assert [m.trust_mark_type for m in resolver.verified_trust_marks(chain)] == [VERIFIED]


@pytest.mark.parametrize("status", ["revoked", "expired", "invalid", "suspended"])
def test_status_check_refuses_what_the_issuer_does_not_report_active(status) -> None:
    fed = _federation_with_marks()
    token = fed.entities[LEAF].trust_marks[0]["trust_mark"]
    fed.statuses[token] = status
    resolver = fed.resolver()
    chain = resolver.resolve(LEAF)
    resolver.verify_trust_mark(token, chain=chain)  # valid on its face
    with pytest.raises(InvalidTrustMark, match=f"reports the trust mark as {status}") as caught:
        resolver.verify_trust_mark(token, chain=chain, check_status=True)
    assert caught.value.status == (status if status != "suspended" else "invalid")
    assert resolver.verified_trust_marks(chain, check_status=True) == []


def test_status_check_accepts_an_active_mark() -> None:
    fed = _federation_with_marks()
    token = fed.entities[LEAF].trust_marks[0]["trust_mark"]
    fed.statuses[token] = "active"
    resolver = fed.resolver()
    chain = resolver.resolve(LEAF)
    assert resolver.verify_trust_mark(token, chain=chain, check_status=True).sub == LEAF


def test_an_unanswered_status_check_refuses_the_mark() -> None:
    fed = _federation_with_marks()
    resolver = fed.resolver()
    chain = resolver.resolve(LEAF)
    token = fed.entities[LEAF].trust_marks[0]["trust_mark"]
    with pytest.raises(InvalidTrustMark, match="could not be checked: .*404"):
        resolver.verify_trust_mark(token, chain=chain, check_status=True)


def test_marks_from_issuers_the_anchor_does_not_accept_cost_no_fetches() -> None:
    fed = _federation_with_marks()
    rogue = [build_trust_mark(issuer=f"https://rogue{n}.example.org", subject=LEAF, trust_mark_type=VERIFIED,
                              key=ISSUER_KEY, now=NOW) for n in range(30)]
    fed.entities[LEAF].trust_marks = [{"trust_mark_type": VERIFIED, "trust_mark": t} for t in rogue]
    resolver = fed.resolver()
    chain = resolver.resolve(LEAF)
    before = len(fed.fetched)
    assert resolver.verified_trust_marks(chain) == []
    assert len(fed.fetched) == before


def test_published_status_checks_ask_only_issuers_with_a_status_endpoint() -> None:
    fed = _federation_with_marks()
    token = fed.entities[LEAF].trust_marks[0]["trust_mark"]
    fed.statuses[token] = "revoked"
    resolver = fed.resolver()
    chain = resolver.resolve(LEAF)
    with pytest.raises(InvalidTrustMark, match="revoked"):
        resolver.verify_trust_mark(token, chain=chain, check_status="published")
    # An issuer that publishes no status endpoint (it is optional, section 5.1.1).
    fed.entities[TMI].metadata = {"federation_entity": {"organization_name": "marks"}}
    resolver = fed.resolver()
    chain = resolver.resolve(LEAF)
    assert resolver.verify_trust_mark(token, chain=chain, check_status="published").sub == LEAF
    with pytest.raises(InvalidTrustMark, match="publishes no status endpoint"):
        resolver.verify_trust_mark(token, chain=chain, check_status=True)
