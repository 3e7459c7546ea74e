"""OpenID Provider metadata: OIDC Discovery 1.0 §3 and RFC 8414 §2."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from werkzeug.wrappers import Request, Response

from hub.domain.claims import AUTH_CLAIMS, EXTENSION_CLAIMS, STANDARD_CLAIMS
from hub.domain.clients import SUPPORTED_SCOPES
from hub.domain.keys import SUPPORTED_ALGS
from hub.domain.sessions import ACR_MFA, ACR_PHR, ACR_PWD
from hub.i18n import LOCALES
from hub.protocol.grants import AUTH_METHODS, SECRET_METHODS
from hub.verification.claims import DISCOVERY_METADATA


def provider_metadata(issuer: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "end_session_endpoint": f"{issuer}/logout",
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": SECRET_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [*STANDARD_CLAIMS, *EXTENSION_CLAIMS, *AUTH_CLAIMS, "iss", "aud", "exp",
                             "iat", "nonce", "sid", "at_hash"],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "acr_values_supported": [ACR_PWD, ACR_MFA, ACR_PHR],
        "prompt_values_supported": ["none", "login", "consent"],
        "claim_types_supported": ["normal"],
        "ui_locales_supported": list(LOCALES),  # hub/i18n.py
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        # OIDC4IDA 1.0, "OP Metadata": verified_claims_supported, trust frameworks,
        # evidence, documents, records and the claims released inside verified_claims.
        **DISCOVERY_METADATA,
    }
    if extra:
        meta.update(extra)
    return meta


def discovery_response(hub: Any, request: Request) -> Response:
    # Built once by the composition root, with what each feature declares.
    return cached_json(request, "metadata", hub.discovery_metadata, 3600)


# Short enough that a key published as "next" reaches every cache long before it signs;
# ``hub keys rotate`` waits this long (plus a margin) after a key is published.
JWKS_MAX_AGE = 300


def jwks_response(hub: Any, request: Request) -> Response:
    return cached_json(request, "jwks", hub.keys.jwks(), JWKS_MAX_AGE)


def cached_json(request: Request, name: str, data: Any, max_age: int) -> Response:
    """A public, cacheable JSON document with an ETag; 304 to a matching If-None-Match."""
    body, etag = _serialised(name, data)
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": f'"{etag}"',
               "Access-Control-Allow-Origin": "*"}
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    return Response(body, mimetype="application/json", headers=headers)


# The documents change rarely (metadata never, the JWKS at a key rotation) and are the same
# object until they do (KeyRing keeps its JWKS for its reload interval): serialise once.
_LAST: dict[str, tuple[Any, bytes, str]] = {}


def _serialised(name: str, data: Any) -> tuple[bytes, str]:
    last = _LAST.get(name)
    if last is not None and last[0] is data:
        return last[1], last[2]
    body = json.dumps(data, separators=(",", ":")).encode()
    etag = hashlib.sha256(body).hexdigest()[:32]
    _LAST[name] = (data, body, etag)
    return body, etag
