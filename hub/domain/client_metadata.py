"""Validation of client metadata (RFC 7591 §2, OIDC Registration §2) before it is stored."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from hub.domain.clients import AUTH_METHODS, SUPPORTED_SCOPES
from hub.domain.keys import SUPPORTED_ALGS

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
GRANT_TYPES = {"authorization_code", "refresh_token", "client_credentials"}
KNOWN = {
    "client_name", "redirect_uris", "post_logout_redirect_uris", "grant_types", "response_types",
    "token_endpoint_auth_method", "scope", "subject_type", "sector_identifier_uri",
    "id_token_signed_response_alg", "client_uri", "logo_uri", "policy_uri", "tos_uri", "contacts",
    "backchannel_logout_uri", "backchannel_logout_session_required",
}
# A registration is a few hundred bytes; these bounds keep a hostile one from costing more.
MAX_METADATA_BYTES = 32 * 1024
MAX_URIS = 20
MAX_CONTACTS = 20
# RFC 3986 §2: the characters a URI may hold (unreserved, reserved and percent-encoding).
# Whitespace, control characters, backslashes, quotes and non-ASCII are not among them; a
# browser and the hub would read such a "URI" differently (RFC 9700 §4.1.1 needs one reading).
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class ClientMetadataError(ValueError):
    """RFC 7591 §3.2.2 error: ``error`` is invalid_redirect_uri or invalid_client_metadata."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # RFC 8259 §4: names SHOULD be unique; parsers disagree on which copy wins.
        raise ClientMetadataError("invalid_client_metadata", "a member name appears twice")
    return obj


def _refuse_constant(name: str) -> Any:
    raise ClientMetadataError("invalid_client_metadata", f"{name} is not a JSON value")


def parse_metadata_json(data: bytes | str) -> dict[str, Any]:
    """The client metadata document (RFC 7591 §3.1): one JSON object, strictly parsed.

    Anything else (not JSON, too large, nested deeper than Python's recursion limit, a
    duplicated member, NaN) is invalid_client_metadata, never a server error.
    """
    if len(data) > MAX_METADATA_BYTES:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"the client metadata is larger than {MAX_METADATA_BYTES} bytes")
    try:
        value = json.loads(data, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    except ClientMetadataError:
        raise
    except (ValueError, RecursionError):  # RecursionError: an array or object nested too deep
        raise ClientMetadataError("invalid_client_metadata",
                                  "the client metadata is not valid JSON") from None
    if not isinstance(value, dict):
        raise ClientMetadataError("invalid_client_metadata", "client metadata must be a JSON object")
    return value


def _check_uri(uri: Any, field: str, *, redirect: bool) -> str:
    error = "invalid_redirect_uri" if redirect else "invalid_client_metadata"
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        raise ClientMetadataError(error, f"{field} must be a non-empty URI string")
    if not _URI_CHARS.fullmatch(uri) or _BAD_PERCENT.search(uri):
        # Also refuses leading or trailing whitespace: exact matching (RFC 9700 §4.1.3) of
        # a URI the RP never sends would only confuse, and one it does send is ambiguous.
        raise ClientMetadataError(error, f"{field} holds characters a URI cannot: {uri!r}")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        # RFC 6749 §3.1.2: the endpoint URI MUST NOT include a fragment component.
        raise ClientMetadataError(error, f"{field} must not contain a fragment: {uri}")
    if "@" in parts.netloc:
        # userinfo (https://trusted.example@evil.example/) shows one host and reaches another.
        raise ClientMetadataError(error, f"{field} must not contain user information: {uri}")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise ClientMetadataError(error, f"{field} has an invalid port: {uri}") from None
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return uri  # RFC 8252 §7.3: loopback redirects for native apps and local tests
    raise ClientMetadataError(error, f"{field} must use https (http only on loopback): {uri}")


def _uri_list(md: dict[str, Any], field: str, *, redirect: bool) -> list[str]:
    error = "invalid_redirect_uri" if redirect else "invalid_client_metadata"
    uris = md.get(field, [])
    if not isinstance(uris, list) or len(uris) > MAX_URIS:
        raise ClientMetadataError(error, f"{field} must be a list of at most {MAX_URIS} URIs")
    return [_check_uri(u, field, redirect=redirect) for u in uris]


def _shown_text(value: Any, field: str, limit: int) -> None:
    """Text the consent page shows the doctor: no control or format characters (a
    right-to-left override can make 'Evil' read as another name)."""
    if not isinstance(value, str) or len(value) > limit:
        raise ClientMetadataError("invalid_client_metadata", f"{field} must be at most {limit} characters")
    if value != value.strip() or any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise ClientMetadataError("invalid_client_metadata",
                                  f"{field} must not hold control characters or surrounding spaces")


def validate_metadata(raw: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ClientMetadataError("invalid_client_metadata", "client metadata must be a JSON object")
    md: dict[str, Any] = {k: v for k, v in raw.items() if k in KNOWN}
    grant_types = md.setdefault("grant_types", ["authorization_code", "refresh_token"])
    if not isinstance(grant_types, list) or not grant_types or \
            not all(isinstance(g, str) for g in grant_types) or not set(grant_types) <= GRANT_TYPES:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"grant_types must be a subset of {sorted(GRANT_TYPES)}")
    if md.setdefault("response_types", ["code"] if "authorization_code" in grant_types else []) \
            not in (["code"], []):
        raise ClientMetadataError("invalid_client_metadata", "only the 'code' response type is supported")
    method = md.setdefault("token_endpoint_auth_method", "client_secret_basic")
    if not isinstance(method, str) or method not in AUTH_METHODS:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"token_endpoint_auth_method must be one of {list(AUTH_METHODS)}")
    if method == "none" and "client_credentials" in grant_types:
        raise ClientMetadataError("invalid_client_metadata",
                                  "a public client cannot use client_credentials")
    uris = md.get("redirect_uris", [])
    if "authorization_code" in grant_types and (not isinstance(uris, list) or not uris):
        raise ClientMetadataError("invalid_redirect_uri", "redirect_uris is required")
    md["redirect_uris"] = _uri_list(md, "redirect_uris", redirect=True)
    md["post_logout_redirect_uris"] = _uri_list(md, "post_logout_redirect_uris", redirect=False)
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
    alg = md.setdefault("id_token_signed_response_alg", "RS256")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGS:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"id_token_signed_response_alg must be one of {list(SUPPORTED_ALGS)}")
    _shown_text(md.get("client_name", ""), "client_name", 100)
    contacts = md.get("contacts", [])
    if not isinstance(contacts, list) or len(contacts) > MAX_CONTACTS or \
            not all(isinstance(c, str) and len(c) < 255 for c in contacts):
        raise ClientMetadataError("invalid_client_metadata",
                                  f"contacts must be a list of at most {MAX_CONTACTS} strings")
    return md
