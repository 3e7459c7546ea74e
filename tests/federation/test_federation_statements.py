"""Entity statements (section 3): building, parsing and the validation steps of section 3.2."""

from __future__ import annotations

import json

import pytest
from federation_fakes import INT, LEAF, NOW, TA, new_key
from joserfc import jws
from joserfc.jwk import RSAKey

from federation import (
    ENTITY_STATEMENT_TYP,
    EntityStatement,
    InvalidTrustChain,
    build_entity_configuration,
    build_subordinate_statement,
    entity_configuration_url,
    parse_entity_statement,
    public_jwks,
    sign_entity_statement,
)

KEY = new_key()


def _claims(**extra) -> dict:
    return {"iss": LEAF, "sub": LEAF, "iat": NOW, "exp": NOW + 3600, "jwks": public_jwks(KEY),
            "metadata": {"openid_relying_party": {"client_name": "RP"}}, **extra}


def _raw(header: dict, claims: dict, key=KEY) -> str:
    return jws.serialize_compact(header, json.dumps(claims), key, algorithms=[header["alg"]])


def test_entity_configuration_round_trip() -> None:
    token = build_entity_configuration(LEAF, key=KEY, now=NOW, lifetime=600, authority_hints=[INT],
                                       metadata={"openid_relying_party": {"client_name": "RP"}})
    statement = parse_entity_statement(token)
    assert statement.header["typ"] == "entity-statement+jwt"
    assert statement.header["kid"] == KEY.kid
    assert statement.is_configuration and statement.authority_hints == [INT]
    assert statement.exp == NOW + 600
    assert statement.verify(statement.jwks).verified


def test_rsa_keys_sign_rs256_by_default() -> None:
    rsa = RSAKey.generate_key(2048, auto_kid=True)
    token = build_entity_configuration(TA, key=rsa, now=NOW, metadata={})
    statement = parse_entity_statement(token)
    assert statement.header["alg"] == "RS256"
    statement.verify(statement.jwks)


def test_subordinate_statement_round_trip() -> None:
    token = build_subordinate_statement(INT, LEAF, key=KEY, subject_jwks=public_jwks(new_key()), now=NOW,
                                        metadata_policy={"openid_relying_party": {"scope": {"subset_of": ["openid"]}}},
                                        constraints={"max_path_length": 0}, source_endpoint=INT + "/fetch")
    statement = parse_entity_statement(token)
    assert not statement.is_configuration
    assert statement.constraints == {"max_path_length": 0}
    assert statement.source_endpoint == INT + "/fetch"


@pytest.mark.parametrize("header", [
    {"alg": "ES256", "kid": KEY.kid},  # no typ
    {"alg": "ES256", "kid": KEY.kid, "typ": "JWT"},
    {"alg": "ES256", "kid": KEY.kid, "typ": "trust-mark+jwt"},
    {"alg": "ES256", "typ": ENTITY_STATEMENT_TYP},  # no kid
    {"alg": "ES256", "kid": "", "typ": ENTITY_STATEMENT_TYP},
])
def test_statements_without_the_right_typ_or_a_kid_are_rejected(header) -> None:
    with pytest.raises(InvalidTrustChain):
        parse_entity_statement(_raw(header, _claims()))


def test_alg_none_is_rejected() -> None:
    import base64

    def b64(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    token = b64({"alg": "none", "typ": ENTITY_STATEMENT_TYP, "kid": KEY.kid}) + "." + b64(_claims()) + "."
    with pytest.raises(InvalidTrustChain, match="none"):
        parse_entity_statement(token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", b"\xff\xfe", "x.y.z.w"])
def test_garbage_is_rejected_with_a_reason(garbage) -> None:
    with pytest.raises(InvalidTrustChain):
        parse_entity_statement(garbage)


@pytest.mark.parametrize("missing", ["iss", "sub", "iat", "exp", "jwks"])
def test_required_claims(missing) -> None:
    claims = _claims()
    del claims[missing]
    with pytest.raises(InvalidTrustChain, match=missing):
        parse_entity_statement(sign_entity_statement(claims, key=KEY))


def test_jwks_keys_need_unique_kids() -> None:
    key = public_jwks(KEY)["keys"][0]
    with pytest.raises(InvalidTrustChain, match="jwks"):
        parse_entity_statement(sign_entity_statement(_claims(jwks={"keys": [key, key]}), key=KEY))


def test_signature_by_another_key_with_the_same_kid_fails() -> None:
    impostor = new_key()
    token = jws.serialize_compact({"alg": "ES256", "typ": ENTITY_STATEMENT_TYP, "kid": KEY.kid},
                                  json.dumps(_claims()), impostor, algorithms=["ES256"])
    with pytest.raises(InvalidTrustChain, match="signature does not validate"):
        parse_entity_statement(token).verify(public_jwks(KEY))


def test_kid_must_exactly_match_a_key_of_the_issuer() -> None:
    statement = parse_entity_statement(sign_entity_statement(_claims(), key=KEY))
    with pytest.raises(InvalidTrustChain, match="no key with kid"):
        statement.verify(public_jwks(new_key()))


def test_hmac_is_not_an_accepted_algorithm() -> None:
    from joserfc.jwk import OctKey

    secret = OctKey.generate_key(256)
    token = jws.serialize_compact({"alg": "HS256", "typ": ENTITY_STATEMENT_TYP, "kid": "k"},
                                  json.dumps(_claims()), secret, algorithms=["HS256"])
    statement = parse_entity_statement(token)
    with pytest.raises(InvalidTrustChain, match="HS256"):
        statement.verify({"keys": [{**secret.as_dict(), "kid": "k"}]})


@pytest.mark.parametrize("claim", [
    {"authority_hints": [TA]}, {"trust_marks": []}, {"trust_mark_issuers": {}}, {"trust_mark_owners": {}},
    {"trust_anchor_hints": [TA]},
])
def test_configuration_claims_in_a_subordinate_statement_are_rejected(claim) -> None:
    claims = {**_claims(iss=INT), **claim}
    with pytest.raises(InvalidTrustChain, match="subordinate statement must not"):
        parse_entity_statement(sign_entity_statement(claims, key=KEY))


@pytest.mark.parametrize("claim", [
    {"metadata_policy": {}}, {"metadata_policy_crit": ["regexp"]}, {"constraints": {}},
    {"source_endpoint": "https://x/fetch"},
])
def test_subordinate_claims_in_an_entity_configuration_are_rejected(claim) -> None:
    with pytest.raises(InvalidTrustChain, match="entity configuration must not"):
        parse_entity_statement(sign_entity_statement(_claims(**claim), key=KEY))


def test_empty_authority_hints_are_rejected() -> None:
    with pytest.raises(InvalidTrustChain, match="authority_hints"):
        parse_entity_statement(sign_entity_statement(_claims(authority_hints=[]), key=KEY))


def test_null_metadata_values_are_rejected() -> None:
    claims = _claims(metadata={"openid_relying_party": {"client_name": None}})
    with pytest.raises(InvalidTrustChain, match="null"):
        parse_entity_statement(sign_entity_statement(claims, key=KEY))


def test_crit_claims_must_be_understood() -> None:
    token = sign_entity_statement(_claims(jti="7l2lncFdY6SlhNia", crit=["jti"]), key=KEY)
    with pytest.raises(InvalidTrustChain, match="critical claim 'jti'"):
        parse_entity_statement(token)
    assert parse_entity_statement(token, understood_claims=["jti"]).claims["jti"] == "7l2lncFdY6SlhNia"


def test_crit_must_not_list_standard_or_absent_claims() -> None:
    # sign_entity_statement refuses to produce these, so forge them with plain joserfc
    for crit in (["exp"], ["jti"], []):
        header = {"alg": "ES256", "typ": ENTITY_STATEMENT_TYP, "kid": KEY.kid}
        with pytest.raises(InvalidTrustChain, match="crit"):
            parse_entity_statement(_raw(header, _claims(crit=crit)), understood_claims=["jti"])
    with pytest.raises(ValueError):
        sign_entity_statement(_claims(crit=["exp"]), key=KEY)


def test_trust_marks_entry_type_must_match_its_jwt() -> None:
    from federation import build_trust_mark

    mark = build_trust_mark(issuer=TA, subject=LEAF, trust_mark_type="https://tm/a", key=KEY, now=NOW)
    ok = _claims(trust_marks=[{"trust_mark_type": "https://tm/a", "trust_mark": mark}])
    parse_entity_statement(sign_entity_statement(ok, key=KEY))
    bad = _claims(trust_marks=[{"trust_mark_type": "https://tm/b", "trust_mark": mark}])
    with pytest.raises(InvalidTrustChain, match="differs"):
        parse_entity_statement(sign_entity_statement(bad, key=KEY))


@pytest.mark.parametrize("constraints", [
    {"max_path_length": -1}, {"max_path_length": "2"}, {"naming_constraints": {"permitted": "x"}},
    {"allowed_entity_types": ["federation_entity"]}, {"allowed_entity_types": "openid_provider"},
])
def test_malformed_constraints_are_rejected(constraints) -> None:
    token = build_subordinate_statement(INT, LEAF, key=KEY, subject_jwks=public_jwks(KEY), now=NOW,
                                        constraints=constraints)
    with pytest.raises(InvalidTrustChain):
        parse_entity_statement(token)


def test_time_window_with_leeway() -> None:
    statement: EntityStatement = parse_entity_statement(sign_entity_statement(_claims(), key=KEY))
    statement.check_time(NOW)
    statement.check_time(NOW - 30)  # within the default 60 s leeway for iat
    with pytest.raises(InvalidTrustChain, match="future"):
        statement.check_time(NOW - 120)
    with pytest.raises(InvalidTrustChain, match="expired"):
        statement.check_time(NOW + 3600 + 61)


def test_entity_configuration_url_drops_a_trailing_slash() -> None:
    assert entity_configuration_url("https://op.example.org/") == "https://op.example.org/.well-known/openid-federation"
    assert entity_configuration_url("https://ex.org/tenant") == "https://ex.org/tenant/.well-known/openid-federation"


def test_duplicate_member_names_are_rejected() -> None:
    # Section 6.1.2: no duplicate names at any level of metadata_policy (nor anywhere else).
    payload = ('{"iss":"%s","sub":"%s","iat":%d,"exp":%d,"jwks":%s,"metadata_policy":{"openid_relying_party":'
               '{"scope":{"value":"openid","value":"openid email"}}}}') % (
        INT, LEAF, NOW, NOW + 60, json.dumps(public_jwks(KEY)))
    token = jws.serialize_compact({"alg": "ES256", "typ": ENTITY_STATEMENT_TYP, "kid": KEY.kid}, payload, KEY,
                                  algorithms=["ES256"])
    with pytest.raises(InvalidTrustChain, match="repeats the member name 'value'"):
        parse_entity_statement(token)


@pytest.mark.parametrize(("make", "alg"), [
    (lambda: RSAKey.generate_key(2048, auto_kid=True), "PS256"),
    (lambda: __import__("joserfc.jwk", fromlist=["ECKey"]).ECKey.generate_key("P-384", auto_kid=True), "ES384"),
    (lambda: __import__("joserfc.jwk", fromlist=["OKPKey"]).OKPKey.generate_key("Ed25519", auto_kid=True), "Ed25519"),
])
def test_other_key_types_sign_and_verify(make, alg) -> None:
    key = make()
    token = build_entity_configuration(TA, key=key, now=NOW, metadata={}, alg=alg if alg == "PS256" else None)
    statement = parse_entity_statement(token)
    assert statement.header["alg"] == alg
    statement.verify(statement.jwks)
    with pytest.raises(InvalidTrustChain, match="not accepted"):
        statement.verify(statement.jwks, algorithms=["RS256"])
