"""Request and response formats of the federation endpoints (section 8), the error
response (section 8.9) and explicit registration messages (section 12.2)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from federation_fakes import INT, LEAF, NOW, TA, FakeFederation, new_key

from federation import (
    InvalidClient,
    InvalidRequest,
    InvalidTrustAnchor,
    InvalidTrustChain,
    InvalidTrustMark,
    ListRequest,
    NotFound,
    PolicyError,
    ResolveRequest,
    ServerError,
    UnsupportedParameter,
    build_entity_configuration,
    build_explicit_registration_response,
    build_resolve_response,
    build_trust_mark,
    build_trust_mark_status_response,
    error_response,
    list_request_url,
    list_response_body,
    parse_error_response,
    parse_explicit_registration_request,
    parse_fetch_request,
    parse_list_request,
    parse_list_response,
    parse_resolve_request,
    parse_resolve_response,
    parse_trust_mark,
    parse_trust_mark_status_request,
    parse_trust_mark_status_response,
    public_jwks,
    resolve_request_url,
    trust_mark_status_request_body,
)
from federation.jose import read_unverified

RP = "openid_relying_party"


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# ----------------------------------------------------------------------------- fetch


def test_fetch_request() -> None:
    assert parse_fetch_request({"sub": [LEAF]}, issuer=INT) == LEAF
    assert parse_fetch_request({"sub": LEAF, "extra": "ignored"}, issuer=INT) == LEAF


@pytest.mark.parametrize(("params", "reason"), [
    ({}, "missing"),
    ({"sub": [""]}, "missing"),
    ({"sub": [LEAF, TA]}, "more than once"),
    ({"sub": ["not a url"]}, "Entity Identifier"),
    ({"sub": [INT]}, "its own entity"),  # section 8.1.2
])
def test_bad_fetch_requests(params, reason) -> None:
    with pytest.raises(InvalidRequest, match=reason) as caught:
        parse_fetch_request(params, issuer=INT)
    assert error_response(caught.value)[0] == 400


# ----------------------------------------------------------------------------- listing


def test_list_request_round_trip() -> None:
    request = ListRequest(entity_types=("openid_provider", "openid_relying_party"), trust_marked=True,
                          trust_mark_type="https://tm.example.org/x", intermediate=False)
    url = list_request_url("https://ta.example.org/list", request)
    assert parse_list_request(_query(url)) == request
    assert parse_list_request({}) == ListRequest()


def test_list_filters_we_do_not_support_are_refused_not_ignored() -> None:
    with pytest.raises(UnsupportedParameter, match="trust_marked") as caught:
        parse_list_request({"trust_marked": ["true"]}, supported=("entity_type",))
    assert error_response(caught.value) == (400, {"error": "unsupported_parameter",
                                                  "error_description": caught.value.description})


def test_list_booleans_are_true_or_false() -> None:
    with pytest.raises(InvalidRequest, match="true or false"):
        parse_list_request({"intermediate": ["yes"]})


def test_list_response() -> None:
    body = list_response_body([LEAF, INT])
    assert json.loads(body) == [LEAF, INT]
    assert parse_list_response(body) == [LEAF, INT]
    with pytest.raises(InvalidRequest):
        parse_list_response('{"a": 1}')


# ----------------------------------------------------------------------------- resolve


def test_resolve_request_round_trip() -> None:
    request = ResolveRequest(sub=LEAF, trust_anchors=(TA, "https://ta2.example.org"), entity_types=(RP,))
    assert parse_resolve_request(_query(resolve_request_url("https://r.example.org/resolve", request))) == request


@pytest.mark.parametrize("params", [{"trust_anchor": [TA]}, {"sub": [LEAF]}, {"sub": [LEAF], "trust_anchor": ["x"]}])
def test_bad_resolve_requests(params) -> None:
    with pytest.raises(InvalidRequest):
        parse_resolve_request(params)


def test_resolve_response_round_trip_with_trust_marks(fed: FakeFederation) -> None:
    resolver_key = new_key()
    fed.entities[LEAF].metadata["federation_entity"] = {"organization_name": "RP"}
    chain = fed.resolver().resolve(LEAF)
    mark_key = new_key()
    mark = parse_trust_mark(build_trust_mark(issuer=TA, subject=LEAF, trust_mark_type="https://tm/x",
                                                key=mark_key, now=NOW, lifetime=60))
    token = build_resolve_response(issuer=TA, chain=chain, key=resolver_key, now=NOW, trust_marks=[mark],
                                   entity_types=[RP])
    header, _ = read_unverified(token, typ="resolve-response+jwt")
    assert header["kid"] == resolver_key.kid
    response = parse_resolve_response(token, issuer_jwks=public_jwks(resolver_key), now=NOW, issuer=TA)
    assert response.sub == LEAF
    assert set(response.metadata) == {RP}  # filtered to the requested entity type
    assert response.trust_chain == chain.tokens
    assert response.exp == NOW + 60  # the trust mark expires before the chain
    assert response.trust_marks == [mark.as_entry()]


def test_resolve_response_from_someone_else_is_refused(fed: FakeFederation) -> None:
    chain = fed.resolver().resolve(LEAF)
    token = build_resolve_response(issuer=TA, chain=chain, key=new_key(), now=NOW)
    with pytest.raises(InvalidTrustChain, match="no key"):
        parse_resolve_response(token, issuer_jwks=public_jwks(new_key()), now=NOW)


# ----------------------------------------------------------------------------- trust mark status


def test_trust_mark_status_round_trip() -> None:
    key = new_key()
    mark = build_trust_mark(issuer=TA, subject=LEAF, trust_mark_type="https://tm/x", key=key, now=NOW)
    assert parse_trust_mark_status_request(trust_mark_status_request_body(mark)) == mark
    for status in ("active", "revoked"):
        token = build_trust_mark_status_response(issuer=TA, trust_mark=mark, status=status, key=key, now=NOW)
        assert read_unverified(token, typ="trust-mark-status-response+jwt")[1]["status"] == status
        assert parse_trust_mark_status_response(token, issuer=TA, issuer_jwks=public_jwks(key), trust_mark=mark,
                                                now=NOW) == status


def test_trust_mark_status_about_another_mark_or_issuer_is_refused() -> None:
    key = new_key()
    mark = build_trust_mark(issuer=TA, subject=LEAF, trust_mark_type="https://tm/x", key=key, now=NOW)
    other = build_trust_mark(issuer=TA, subject=INT, trust_mark_type="https://tm/x", key=key, now=NOW)
    token = build_trust_mark_status_response(issuer=TA, trust_mark=other, status="active", key=key, now=NOW)
    with pytest.raises(InvalidTrustMark, match="another trust mark"):
        parse_trust_mark_status_response(token, issuer=TA, issuer_jwks=public_jwks(key), trust_mark=mark, now=NOW)
    with pytest.raises(InvalidTrustMark, match="not by"):
        parse_trust_mark_status_response(token, issuer=INT, issuer_jwks=public_jwks(key), trust_mark=other, now=NOW)
    with pytest.raises(InvalidRequest):
        parse_trust_mark_status_request({})


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("error", "code", "status"), [
    (InvalidRequest("x"), "invalid_request", 400),
    (InvalidClient("x"), "invalid_client", 401),
    (InvalidTrustAnchor("x"), "invalid_trust_anchor", 404),
    (InvalidTrustChain("x"), "invalid_trust_chain", 400),
    (PolicyError("x"), "invalid_metadata", 400),
    (NotFound("x"), "not_found", 404),
    (ServerError("x"), "server_error", 500),
    (UnsupportedParameter("x"), "unsupported_parameter", 400),
])
def test_error_responses_use_the_spec_codes(error, code, status) -> None:
    got_status, body = error_response(error)
    assert (got_status, body) == (status, {"error": code, "error_description": "x"})
    parsed = parse_error_response(json.dumps(body))
    assert parsed.error == code and parsed.description == "x"


def test_unknown_or_garbled_remote_errors_become_server_errors() -> None:
    assert isinstance(parse_error_response('{"error": "something_new"}'), ServerError)
    assert isinstance(parse_error_response("<html>"), ServerError)


# ----------------------------------------------------------------------------- explicit registration

OP = "https://hub.example.org"


def _registration_request(key=None, **kwargs) -> tuple[str, object]:
    key = key or new_key()
    extra = {"aud": OP, **kwargs.pop("extra", {})}
    token = build_entity_configuration(LEAF, key=key, now=NOW, authority_hints=kwargs.pop("hints", [INT]),
                                       metadata=kwargs.pop("metadata", {RP: {"redirect_uris": [LEAF + "/cb"]}}),
                                       extra_claims=extra)
    return token, key


def test_explicit_registration_request_and_response() -> None:
    token, _key = _registration_request()
    request = parse_explicit_registration_request(token, content_type="application/entity-statement+jwt",
                                                  op_entity_id=OP, now=NOW)
    assert request.configuration.sub == LEAF and request.trust_chain is None
    op_key = new_key()
    response = build_explicit_registration_response(
        op_entity_id=OP, rp_configuration=request.configuration, trust_anchor_id=TA, authority_hint=INT,
        rp_metadata={"client_id": LEAF, "redirect_uris": [LEAF + "/cb"]}, key=op_key, now=NOW, exp=NOW + 600)
    header, claims = read_unverified(response, typ="explicit-registration-response+jwt")
    assert claims["trust_anchor"] == TA and claims["authority_hints"] == [INT] and claims["aud"] == LEAF
    assert claims["metadata"][RP]["client_id"] == LEAF and claims["jwks"] == request.configuration.jwks


def test_explicit_registration_as_a_trust_chain(fed: FakeFederation) -> None:
    fed.entities[LEAF].extra_claims = {"aud": OP}
    chain = fed.chain(LEAF, INT, TA)
    request = parse_explicit_registration_request(json.dumps(chain), content_type="application/trust-chain+json",
                                                  op_entity_id=OP, now=NOW)
    assert request.trust_chain == chain


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"extra": {"aud": "https://other-op.example.org"}}, "aud"),
    ({"extra": {"aud": [OP, "https://other-op.example.org"]}}, "aud"),
    ({"hints": []}, "authority_hints"),
    ({"metadata": {"openid_provider": {}}}, "openid_relying_party"),
])
def test_bad_explicit_registration_requests(kwargs, reason) -> None:
    token, _ = _registration_request(**kwargs)
    with pytest.raises(InvalidRequest, match=reason):
        parse_explicit_registration_request(token, content_type="application/entity-statement+jwt",
                                            op_entity_id=OP, now=NOW)


def test_explicit_registration_with_a_wrong_content_type_or_signature() -> None:
    token, _ = _registration_request()
    with pytest.raises(InvalidRequest, match="application/entity-statement"):
        parse_explicit_registration_request(token, content_type="application/json", op_entity_id=OP, now=NOW)
    forged = build_entity_configuration(LEAF, key=new_key(), now=NOW, authority_hints=[INT], metadata={RP: {}},
                                        jwks=public_jwks(new_key()), extra_claims={"aud": OP})
    with pytest.raises(InvalidRequest, match="self-signed|no key"):
        parse_explicit_registration_request(forged, content_type="application/entity-statement+jwt",
                                            op_entity_id=OP, now=NOW)
