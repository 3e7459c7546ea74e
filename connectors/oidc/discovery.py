"""OpenID Provider metadata and JWKS, fetched through :class:`HttpClient` and cached.

OIDC Discovery §4: metadata lives at ``issuer + "/.well-known/openid-configuration"`` and
its ``issuer`` MUST equal the configured issuer exactly (§4.3), which stops one provider from
impersonating another. The JWKS is refetched when an ID token names an unknown ``kid``
(key rotation, OIDC Core §10.1.1), but such forced refetches happen at most once per
``_JWKS_MIN_INTERVAL`` so a stream of forged ``kid`` values cannot make us hammer the
provider.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from connectors.errors import ConfigError, InvalidUpstreamData, UpstreamRejected
from connectors.http import HttpClient
from connectors.oauth import Endpoints
from connectors.oidc.config import OidcConfig

_JWKS_MIN_INTERVAL = 60.0
_PUBLIC_KTY = frozenset({"RSA", "EC", "OKP"})


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    endpoints: Endpoints
    jwks_uri: str
    userinfo_endpoint: str | None
    algs: tuple[str, ...]  # our allow-list ∩ what the provider says it signs with
    iss_parameter_required: bool  # RFC 9207 §3


class Provider:
    def __init__(self, config: OidcConfig, http: HttpClient,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.http = http
        self.clock = clock
        self._lock = threading.Lock()
        self._meta: tuple[float, ProviderMetadata] | None = None
        self._jwks: tuple[float, KeySet] | None = None
        self._last_forced = float("-inf")

    def metadata(self) -> ProviderMetadata:
        with self._lock:
            if self._meta and self.clock() - self._meta[0] < self.config.metadata_ttl:
                return self._meta[1]
        meta = self._fetch_metadata()
        with self._lock:
            self._meta = (self.clock(), meta)
        return meta

    def keys(self, *, force: bool = False) -> KeySet:
        now = self.clock()
        with self._lock:
            cached = self._jwks
            if force and now - self._last_forced < _JWKS_MIN_INTERVAL:
                force = False  # an unknown kid again so soon: likely forged, keep the cache
            elif force:
                self._last_forced = now
        if cached and not force and now - cached[0] < self.config.metadata_ttl:
            return cached[1]
        keys = self._fetch_jwks(self.metadata().jwks_uri)
        with self._lock:
            self._jwks = (now, keys)
        return keys

    # -- fetching ---------------------------------------------------------------------------

    def _url(self, doc: dict[str, Any], key: str, *, required: bool) -> str | None:
        value = doc.get(key)
        if value is None and not required:
            return None
        ok_schemes = ("https", "http") if self.config.http.insecure_transport else ("https",)
        if not isinstance(value, str) or urlsplit(value).scheme not in ok_schemes:
            raise InvalidUpstreamData(reason="bad_metadata", detail=f"{key} missing or not https",
                                      network=self.http.network)
        return value

    def _fetch_metadata(self) -> ProviderMetadata:
        issuer = self.config.issuer
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        doc = self.http.get(url).json()
        network = self.http.network
        if not isinstance(doc, dict):
            raise InvalidUpstreamData(reason="bad_metadata", network=network)
        if doc.get("issuer") != issuer:
            raise InvalidUpstreamData(reason="issuer_mismatch", network=network,
                                      detail="discovery issuer differs (OIDC Discovery §4.3)")
        methods = doc.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise UpstreamRejected(reason="pkce_unsupported", network=network)
        offered = doc.get("id_token_signing_alg_values_supported")
        algs = tuple(self.config.id_token_signing_algs)
        if isinstance(offered, list):
            algs = tuple(a for a in algs if a in offered)
        if not algs:
            raise ConfigError("id_token_signing_algs: none of them is offered by the provider",
                              network=network)
        return ProviderMetadata(
            issuer=issuer,
            endpoints=Endpoints(
                authorization=self._url(doc, "authorization_endpoint", required=True) or "",
                token=self._url(doc, "token_endpoint", required=True) or "",
                revocation=self._url(doc, "revocation_endpoint", required=False),
                issuer=issuer,
            ),
            jwks_uri=self._url(doc, "jwks_uri", required=True) or "",
            userinfo_endpoint=self._url(doc, "userinfo_endpoint", required=False),
            algs=algs,
            iss_parameter_required=doc.get("authorization_response_iss_parameter_supported")
            is True,
        )

    def _fetch_jwks(self, uri: str) -> KeySet:
        doc = self.http.get(uri, accept="application/jwk-set+json, application/json").json()
        raw = doc.get("keys") if isinstance(doc, dict) else None
        if not isinstance(raw, list):
            raise InvalidUpstreamData(reason="bad_jwks", network=self.http.network)
        # Only public signing keys: a symmetric ("oct") or encryption key in a JWKS is never
        # used to verify an ID token.
        usable = [k for k in raw if isinstance(k, dict) and k.get("kty") in _PUBLIC_KTY
                  and k.get("use", "sig") == "sig"]
        try:
            return KeySet.import_key_set({"keys": usable})
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidUpstreamData(reason="bad_jwks", detail=str(exc)[:200],
                                      network=self.http.network) from None
