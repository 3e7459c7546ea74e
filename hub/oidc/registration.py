"""Validation of client metadata (RFC 7591 §2, OIDC Registration §2) before it is stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from hub.oidc.clients import AUTH_METHODS, SUPPORTED_SCOPES
from hub.oidc.keys import SUPPORTED_ALGS

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
GRANT_TYPES = {"authorization_code", "refresh_token", "client_credentials"}
KNOWN = {
    "client_name", "redirect_uris", "post_logout_redirect_uris", "grant_types", "response_types",
    "token_endpoint_auth_method", "scope", "subject_type", "sector_identifier_uri",
    "id_token_signed_response_alg", "client_uri", "logo_uri", "policy_uri", "tos_uri", "contacts",
    "backchannel_logout_uri", "backchannel_logout_session_required",
}


class ClientMetadataError(ValueError):
    """RFC 7591 §3.2.2 error: ``error`` is invalid_redirect_uri or invalid_client_metadata."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _check_uri(uri: Any, field: str, *, redirect: bool) -> str:
    error = "invalid_redirect_uri" if redirect else "invalid_client_metadata"
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        raise ClientMetadataError(error, f"{field} must be a non-empty URI string")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise ClientMetadataError(error, f"{field} must not contain a fragment: {uri}")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return uri  # RFC 8252 §7.3: loopback redirects for native apps and local tests
    raise ClientMetadataError(error, f"{field} must use https (http only on loopback): {uri}")


def validate_metadata(raw: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ClientMetadataError("invalid_client_metadata", "client metadata must be a JSON object")
    md: dict[str, Any] = {k: v for k, v in raw.items() if k in KNOWN}
    grant_types = md.setdefault("grant_types", ["authorization_code", "refresh_token"])
    if not isinstance(grant_types, list) or not set(grant_types) <= GRANT_TYPES or not grant_types:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"grant_types must be a subset of {sorted(GRANT_TYPES)}")
    if md.setdefault("response_types", ["code"] if "authorization_code" in grant_types else []) \
            not in (["code"], []):
        raise ClientMetadataError("invalid_client_metadata", "only the 'code' response type is supported")
    method = md.setdefault("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"token_endpoint_auth_method must be one of {list(AUTH_METHODS)}")
    if method == "none" and "client_credentials" in grant_types:
        raise ClientMetadataError("invalid_client_metadata",
                                  "a public client cannot use client_credentials")
    uris = md.get("redirect_uris", [])
    if "authorization_code" in grant_types and (not isinstance(uris, list) or not uris):
        raise ClientMetadataError("invalid_redirect_uri", "redirect_uris is required")
    md["redirect_uris"] = [_check_uri(u, "redirect_uris", redirect=True) for u in uris]
    plo = md.get("post_logout_redirect_uris", [])
    if not isinstance(plo, list):
        raise ClientMetadataError("invalid_client_metadata", "post_logout_redirect_uris must be a list")
    md["post_logout_redirect_uris"] = [_check_uri(u, "post_logout_redirect_uris", redirect=False)
                                       for u in plo]
    for f in ("client_uri", "logo_uri", "policy_uri", "tos_uri", "sector_identifier_uri",
              "backchannel_logout_uri"):
        if f in md:
            _check_uri(md[f], f, redirect=False)
    scope = md.setdefault("scope", " ".join(SUPPORTED_SCOPES))
    if not isinstance(scope, str) or not set(scope.split()) <= set(SUPPORTED_SCOPES):
        raise ClientMetadataError("invalid_client_metadata",
                                  f"scope may only contain {' '.join(SUPPORTED_SCOPES)}")
    if md.setdefault("subject_type", "pairwise") not in ("pairwise", "public"):
        raise ClientMetadataError("invalid_client_metadata", "subject_type must be pairwise or public")
    hosts = {urlsplit(u).hostname for u in md["redirect_uris"]}
    if md["subject_type"] == "pairwise" and len(hosts) > 1 and "sector_identifier_uri" not in md:
        # OIDC Core §8.1: several redirect hosts need one declared sector.
        raise ClientMetadataError("invalid_client_metadata",
                                  "redirect_uris on several hosts need a sector_identifier_uri")
    if md.setdefault("id_token_signed_response_alg", "RS256") not in SUPPORTED_ALGS:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"id_token_signed_response_alg must be one of {list(SUPPORTED_ALGS)}")
    name = md.get("client_name", "")
    if not isinstance(name, str) or len(name) > 100:
        raise ClientMetadataError("invalid_client_metadata", "client_name must be at most 100 characters")
    contacts = md.get("contacts", [])
    if not isinstance(contacts, list) or not all(isinstance(c, str) and len(c) < 255 for c in contacts):
        raise ClientMetadataError("invalid_client_metadata", "contacts must be a list of strings")
    return md
