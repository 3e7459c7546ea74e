"""Validation of client metadata (RFC 7591 §2, OIDC Registration §2) before it is stored.

``validate_metadata`` is what every client must get right (an admin's ``hub client add``
included); ``strict_metadata`` adds what a self-registered client must also get right,
and is what dynamic registration (hub/protocol/registration.py) and the operator portal
apply. ``REVIEWED`` names the fields an admin approves.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

import requests

from hub.domain.clients import AUTH_METHODS, SUPPORTED_SCOPES
from hub.domain.keys import SUPPORTED_ALGS
from hub.outbound import Outbound, OutboundError

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
GRANT_TYPES = {"authorization_code", "refresh_token", "client_credentials"}
KNOWN = {
    "client_name", "redirect_uris", "post_logout_redirect_uris", "grant_types", "response_types",
    "token_endpoint_auth_method", "scope", "subject_type", "sector_identifier_uri",
    "id_token_signed_response_alg", "client_uri", "logo_uri", "policy_uri", "tos_uri", "contacts",
    "backchannel_logout_uri", "backchannel_logout_session_required",
}
# Metadata an admin reviews before approving: what doctors are shown (name, logo, pages),
# where codes, logouts and pairwise subjects go, and what the client may ask for. Every
# stored field except the contact addresses, so a field added to KNOWN is reviewed too.
UNREVIEWED = frozenset({"contacts"})
REVIEWED = frozenset(KNOWN - UNREVIEWED)
# The sector document (OIDC Registration §5): fetched once per registration, bounded.
MAX_SECTOR_DOCUMENT = 64 * 1024
SECTOR_DEADLINE = 5.0  # seconds for the whole fetch, however slowly the server answers
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


def _https(md: dict[str, Any], name: str) -> None:
    uri = md.get(name)
    if uri is not None and urlsplit(str(uri)).scheme != "https":
        raise ClientMetadataError("invalid_client_metadata", f"{name} must use https")


def strict_metadata(raw: Any, *, outbound: Outbound | None, insecure_transport: bool = False
                    ) -> dict[str, Any]:
    """validate_metadata plus what a self-registered client must also get right.

    Pages shown to doctors (logo, policy, terms) and the sector document are https only;
    contacts are email addresses; the back-channel settings have the right types; a
    sector_identifier_uri lists every redirect URI (OIDC Registration §5), fetched through
    ``outbound`` last, once everything else is valid (``outbound=None`` leaves the fetch to
    the caller: ``check_sector_identifier``). ``insecure_transport`` (the local demo
    setting) allows an http back-channel logout URI on loopback.
    """
    if not isinstance(raw, dict):
        raise ClientMetadataError("invalid_client_metadata", "client metadata must be a JSON object")
    md = validate_metadata(raw)
    for name in ("logo_uri", "policy_uri", "tos_uri", "client_uri", "sector_identifier_uri"):
        _https(md, name)
    for contact in md.get("contacts", []):
        local, _, domain = contact.partition("@")
        if not local or "." not in domain or any(c.isspace() for c in contact):
            raise ClientMetadataError("invalid_client_metadata", "contacts must be email addresses")
    if "backchannel_logout_session_required" in md and \
            not isinstance(md["backchannel_logout_session_required"], bool):
        raise ClientMetadataError("invalid_client_metadata",
                                  "backchannel_logout_session_required must be true or false")
    bcl = md.get("backchannel_logout_uri")
    if bcl is not None and urlsplit(str(bcl)).scheme != "https" and not (
            insecure_transport and urlsplit(str(bcl)).hostname in LOOPBACK_HOSTS):
        # Back-Channel Logout 1.0 §2.2: the logout token carries the doctor's sid and sub.
        raise ClientMetadataError("invalid_client_metadata", "backchannel_logout_uri must use https")
    if outbound is not None:
        check_sector_identifier(md, outbound)
    return md


def check_sector_identifier(md: dict[str, Any], outbound: Outbound) -> None:
    """OIDC Registration §5: the sector_identifier_uri document lists every redirect URI."""
    sector = md.get("sector_identifier_uri")
    if sector is None:
        return
    listed = set(_sector_uris(str(sector), outbound))
    missing = [u for u in md["redirect_uris"] if u not in listed]
    if missing:
        raise ClientMetadataError("invalid_redirect_uri",
                                  f"redirect URI not listed at sector_identifier_uri: {missing[0]}")


def _sector_uris(uri: str, outbound: Outbound) -> list[str]:
    """The sector document is a JSON array of redirect URIs.

    Fetched through the hub's guarded outbound session (hub/outbound.py): a client cannot
    make the hub call an internal address, hold it past the deadline or flood it.
    """
    http = outbound.session(deadline=SECTOR_DEADLINE, max_bytes=MAX_SECTOR_DOCUMENT, max_redirects=0)
    try:
        resp = http.get(uri, allow_redirects=False, headers={"Accept": "application/json"})
        body = resp.content
    except OutboundError as e:
        raise ClientMetadataError("invalid_client_metadata",
                                  f"sector_identifier_uri was not fetched: {e.public}") from None
    except requests.RequestException:
        raise ClientMetadataError("invalid_client_metadata",
                                  "sector_identifier_uri could not be fetched") from None
    finally:
        http.close()
    if resp.status_code != 200 or len(body) > MAX_SECTOR_DOCUMENT:
        raise ClientMetadataError("invalid_client_metadata",
                                  "sector_identifier_uri did not answer with a JSON array")
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ClientMetadataError("invalid_client_metadata",
                                  "sector_identifier_uri must hold a JSON array of URIs")
    return value
