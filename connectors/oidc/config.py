"""Config of the ``oidc`` kind: the network is itself an OpenID Provider."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.config import require_url
from connectors.errors import ConfigError
from connectors.jsonapi import JsonActivityConfig
from connectors.oauth import OAuthClientConfig

# Asymmetric only. "none" is never acceptable, and HS* is refused outright: with HMAC the
# verification key is the client secret, and accepting HS* next to a JWKS is the classic
# algorithm-confusion hole (a public key used as an HMAC secret). OIDC Core §3.1.3.7 (8).
ASYMMETRIC_ALGS = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
})


@dataclass(frozen=True, kw_only=True)
class OidcConfig(OAuthClientConfig):
    issuer: str  # exact issuer identifier; discovery is at issuer + /.well-known/...
    scopes: tuple[str, ...] = ("openid", "profile")
    id_token_signing_algs: tuple[str, ...] = ("RS256", "PS256", "ES256", "EdDSA")
    acr_values: tuple[str, ...] = ()  # requested, OIDC Core §3.1.2.1; the result is recorded
    trusted_audiences: tuple[str, ...] = ()  # extra ``aud`` values tolerated (§3.1.3.7 (3))
    userinfo: bool = False  # also call the UserInfo endpoint for the display name
    leeway: int = 60  # clock skew allowed on exp/iat/nbf, seconds
    max_id_token_age: int = 600  # refuse an ID token whose iat is older than this
    metadata_ttl: int = 3600  # cache discovery and JWKS this long
    activity: JsonActivityConfig | None = None  # optional member activity API

    def __post_init__(self) -> None:
        super().__post_init__()
        allow_http = self.http.insecure_transport
        require_url(self.issuer, "issuer", allow_http=allow_http)
        if "?" in self.issuer:
            raise ConfigError("issuer: must not contain a query")  # OIDC Discovery §2
        if "openid" not in self.scopes:
            raise ConfigError("scopes: must include openid")
        if not self.id_token_signing_algs:
            raise ConfigError("id_token_signing_algs: at least one algorithm")
        bad = sorted(set(self.id_token_signing_algs) - ASYMMETRIC_ALGS)
        if bad:
            raise ConfigError(f"id_token_signing_algs: not allowed: {', '.join(bad)}")
        if not 0 <= self.leeway <= 300:
            raise ConfigError("leeway: between 0 and 300 seconds")
        if not 60 <= self.max_id_token_age <= 86400:
            raise ConfigError("max_id_token_age: between 60 and 86400 seconds")
        if not 60 <= self.metadata_ttl <= 86400:
            raise ConfigError("metadata_ttl: between 60 and 86400 seconds")
        if self.activity is not None:
            self.activity.check(allow_http)
