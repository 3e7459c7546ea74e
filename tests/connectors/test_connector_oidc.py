"""The oidc kind: authorization request, callback checks and ID token validation
(OIDC Core §3.1.3.7) against the fake OpenID Provider over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conformance import REDIRECT_URI, STATE, Harness, oidc_config
from connector_fakes import CLIENT_ID, SUBJECT, Fake, rsa_key

from connectors import registry
from connectors.errors import ConfigError, InvalidUpstreamData, UpstreamRejected
from connectors.oidc import OidcConnector


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def harness(fake: Fake, **overrides: Any) -> Harness:
    from conformance import PROFILES

    h = Harness(PROFILES[0], fake)
    if overrides:
        h.connector = registry.build("oidc", "oidc", {**oidc_config(fake), **overrides})
    return h


def test_authorization_request_uses_pkce_s256_nonce_state(fake: Fake) -> None:
    h = harness(fake)
    start = h.connector.begin_link(state=STATE, redirect_uri=REDIRECT_URI)
    assert start.authorization_url and start.authorization_url.startswith(fake.base + "/authorize?")
    q = {k: v[0] for k, v in parse_qs(urlsplit(start.authorization_url).query).items()}
    assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["state"] == STATE and q["redirect_uri"] == REDIRECT_URI
    assert len(q["nonce"]) >= 32 and q["scope"] == "openid profile"
    assert q["nonce"].encode() in start.pending  # kept for complete_link
    assert q["code_challenge"].encode() not in start.pending  # the verifier is, not this
    # Two starts never share secrets.
    other = h.connector.begin_link(state=STATE, redirect_uri=REDIRECT_URI)
    assert other.pending != start.pending


def test_link_records_evidence(fake: Fake) -> None:
    identity = harness(fake).link()
    assert identity.issuer == fake.base and identity.subject == SUBJECT
    assert identity.acr == "urn:mace:incommon:iap:silver" and identity.amr == ("pwd", "otp")
    assert identity.authenticated_at is not None
    assert identity.display_name == "Ada L."  # from UserInfo, whose sub matched
    sent = fake.token_requests[-1]
    assert sent["grant_type"] == "authorization_code" and len(sent["code_verifier"]) >= 43
    assert "client_secret" not in sent  # client_secret_basic: in the header only


def test_acr_values_requested(fake: Fake) -> None:
    h = harness(fake, acr_values=["urn:eidas:loa:high"])
    h.link()
    assert fake.auth_requests[-1]["acr_values"] == "urn:eidas:loa:high"


def link_with(fake: Fake, **patch: Any) -> None:
    fake.id_token_patch.update(patch)
    harness(fake).link()


@pytest.mark.parametrize(("patch", "why"), [
    ({"iss": "https://evil.example"}, "iss must match exactly (§3.1.3.7 2)"),
    ({"aud": "someone-else"}, "aud must contain client_id (3)"),
    ({"aud": [CLIENT_ID, "other-rp"]}, "untrusted extra audience (3)"),
    ({"azp": "other-rp"}, "azp must be our client_id (5)"),
    ({"exp": int(time.time()) - 600}, "expired (9)"),
    ({"iat": int(time.time()) - 7200, "exp": int(time.time()) + 60}, "issued too long ago (10)"),
    ({"iat": int(time.time()) + 3600}, "issued in the future (10)"),
    ({"nonce": "replayed-nonce"}, "nonce mismatch (11)"),
    ({"nonce": None}, "nonce missing (11)"),
    ({"sub": None}, "sub missing"),
    ({"sub": "x" * 300}, "sub longer than 255"),
    ({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "at_hash mismatch (§3.1.3.8)"),
])
def test_id_token_claims_rejected(fake: Fake, patch: dict[str, Any], why: str) -> None:
    with pytest.raises(InvalidUpstreamData) as caught:
        link_with(fake, **patch)
    assert caught.value.reason == "invalid_id_token", why


def test_extra_audience_allowed_when_trusted(fake: Fake) -> None:
    fake.id_token_patch.update({"aud": [CLIENT_ID, "partner-api"], "azp": CLIENT_ID})
    assert harness(fake, trusted_audiences=["partner-api"]).link().subject == SUBJECT


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    head = b64(json.dumps({**header, "alg": "none"}).encode())
    return f"{head}.{b64(json.dumps(claims).encode())}."


def _hs256_with_public_key(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """The algorithm-confusion attack: HMAC keyed with the provider's *public* key."""
    pem = rsa_key("k1").as_pem(private=False)
    signing_input = f"{b64(json.dumps({**header, 'alg': 'HS256'}).encode())}." \
                    f"{b64(json.dumps(claims).encode())}"
    sig = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


def _wrong_key(header: dict[str, Any], claims: dict[str, Any]) -> str:
    from joserfc import jwt

    return jwt.encode(header, claims, rsa_key("attacker"))  # same kid "k1", other key


def _tampered(header: dict[str, Any], claims: dict[str, Any]) -> str:
    from joserfc import jwt

    token = jwt.encode(header, claims, rsa_key("k1"))
    head, _, sig = token.split(".")
    return f"{head}.{b64(json.dumps({**claims, 'sub': 'admin'}).encode())}.{sig}"


@pytest.mark.parametrize("signer", [_unsigned, _hs256_with_public_key, _wrong_key, _tampered],
                         ids=["alg-none", "hs256-public-key", "wrong-key", "tampered"])
def test_id_token_signature_rejected(fake: Fake, signer: Any) -> None:
    fake.id_token_signer = signer
    with pytest.raises(InvalidUpstreamData) as caught:
        harness(fake).link()
    assert caught.value.reason == "invalid_id_token"
    assert "token" not in str(caught.value).lower() or "sign-in" in str(caught.value)


def test_key_rotation_refetches_jwks_once(fake: Fake) -> None:
    h = harness(fake)
    h.link()  # caches the JWKS with k1
    fake.kid, fake.jwks_kids = "k2", ("k1", "k2")  # the provider rotates
    assert h.link().subject == SUBJECT
    jwks_fetches = [r for r in fake.request_log if r[1].startswith("/jwks")]
    assert len(jwks_fetches) == 2
    # A forged kid right after does not make us hammer the provider.
    fake.kid = "k9"
    fake.id_token_signer = lambda header, claims: _wrong_key({**header, "kid": "k9"}, claims)
    with pytest.raises(InvalidUpstreamData):
        h.link()
    assert len([r for r in fake.request_log if r[1].startswith("/jwks")]) == 2


def test_discovery_issuer_mismatch(fake: Fake) -> None:
    fake.discovery_patch["issuer"] = "https://impostor.example"
    with pytest.raises(InvalidUpstreamData) as caught:
        harness(fake).connector.begin_link(state=STATE, redirect_uri=REDIRECT_URI)
    assert caught.value.reason == "issuer_mismatch"


def test_provider_without_s256_refused(fake: Fake) -> None:
    fake.discovery_patch["code_challenge_methods_supported"] = ["plain"]
    with pytest.raises(UpstreamRejected):
        harness(fake).connector.begin_link(state=STATE, redirect_uri=REDIRECT_URI)


def test_state_mismatch_refused(fake: Fake) -> None:
    h = harness(fake)
    start = h.connector.begin_link(state=STATE, redirect_uri=REDIRECT_URI)
    params = h.browser(start.authorization_url or "")
    params["state"] = "attacker-state"
    with pytest.raises(InvalidUpstreamData) as caught:
        h.connector.complete_link(params, start.pending)
    assert caught.value.reason == "state_mismatch"
    assert fake.token_requests == []  # nothing was exchanged


def test_mix_up_iss_parameter_refused(fake: Fake) -> None:
    h = harness(fake)
    start = h.connector.begin_link(state=STATE, redirect_uri=REDIRECT_URI)
    params = h.browser(start.authorization_url or "")
    params["iss"] = "https://other-as.example"
    with pytest.raises(InvalidUpstreamData):
        h.connector.complete_link(params, start.pending)
    del params["iss"]  # the provider promised iss (RFC 9207), so it is required
    with pytest.raises(InvalidUpstreamData):
        h.connector.complete_link(params, start.pending)


def test_access_denied_is_rejected(fake: Fake) -> None:
    fake.deny = True
    with pytest.raises(UpstreamRejected) as caught:
        harness(fake).link()
    assert caught.value.reason == "access_denied"


def test_code_replay_refused(fake: Fake) -> None:
    h = harness(fake)
    start = h.connector.begin_link(state=STATE, redirect_uri=REDIRECT_URI)
    params = h.browser(start.authorization_url or "")
    h.connector.complete_link(params, start.pending)
    with pytest.raises(UpstreamRejected) as caught:
        h.connector.complete_link(params, start.pending)
    assert caught.value.reason == "invalid_grant"


def test_expired_or_forged_pending(fake: Fake) -> None:
    now = [time.time()]
    connector = OidcConnector("oidc", registry.load_config("oidc", oidc_config(fake)),
                              clock=lambda: now[0])
    h = harness(fake)
    start = connector.begin_link(state=STATE, redirect_uri=REDIRECT_URI)
    params = h.browser(start.authorization_url or "")
    with pytest.raises(InvalidUpstreamData) as caught:
        connector.complete_link(params, b"not json")
    assert caught.value.reason == "bad_pending"
    now[0] += 901
    with pytest.raises(InvalidUpstreamData) as caught:
        connector.complete_link(params, start.pending)
    assert caught.value.reason == "link_expired"


def test_userinfo_sub_mismatch_refused(fake: Fake) -> None:
    fake.userinfo_patch["sub"] = "someone-else"
    with pytest.raises(InvalidUpstreamData) as caught:
        harness(fake).link()
    assert caught.value.reason == "userinfo_sub_mismatch"


def test_no_activity_configured_gives_empty_page(fake: Fake) -> None:
    config = {k: v for k, v in oidc_config(fake).items() if k != "activity"}
    h = harness(fake)
    h.connector = registry.build("oidc", "oidc", config)
    page = h.fetch(h.link())
    assert page.items == () and page.cursor is None


@pytest.mark.parametrize("algs", [["HS256"], ["none"], ["RS256", "HS512"], []])
def test_config_refuses_symmetric_and_none_algs(fake: Fake, algs: list[str]) -> None:
    with pytest.raises(ConfigError):
        registry.load_config("oidc", {**oidc_config(fake), "id_token_signing_algs": algs})


def test_config_requires_https_issuer_and_openid_scope() -> None:
    base = {"client_id": "c", "client_secret": "very-secret-value"}
    with pytest.raises(ConfigError, match="issuer"):
        registry.load_config("oidc", {**base, "issuer": "http://op.example"})
    with pytest.raises(ConfigError, match="openid"):
        registry.load_config("oidc", {**base, "issuer": "https://op.example",
                                      "scopes": ["profile"]})
    cfg = registry.load_config("oidc", {**base, "issuer": "https://op.example"})
    assert "very-secret-value" not in repr(cfg)
