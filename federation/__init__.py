"""OpenID Federation 1.0: entity statements, trust chains, metadata policy and trust marks.

Framework-free: the hub hands in keys (joserfc keys), HTTP (a ``fetch`` callable through its
guarded outbound client), a clock and a cache, and gets plain data and typed errors back
(never importing hub, Flask or the database). The public API is re-exported here; see
docs/federation.md, "The federation library".
"""

from federation.chain import TRUST_CHAIN_MEDIA_TYPE, TrustChain, validate_trust_chain
from federation.constraints import allowed_entity_types, enforce_constraints, name_matches
from federation.endpoints import (
    RESOLVE_RESPONSE_MEDIA_TYPE,
    TRUST_MARK_STATUS_RESPONSE_MEDIA_TYPE,
    TRUST_MARK_STATUSES,
    ListRequest,
    ResolveRequest,
    ResolveResponse,
    build_resolve_response,
    build_trust_mark_status_response,
    error_response,
    fetch_request_url,
    list_request_url,
    list_response_body,
    parse_error_response,
    parse_fetch_request,
    parse_list_request,
    parse_list_response,
    parse_resolve_request,
    parse_resolve_response,
    parse_trust_mark_status_request,
    parse_trust_mark_status_response,
    resolve_request_url,
    trust_mark_status_request_body,
)
from federation.errors import (
    FederationError,
    FetchFailed,
    InvalidClient,
    InvalidIssuer,
    InvalidMetadata,
    InvalidRequest,
    InvalidSubject,
    InvalidTrustAnchor,
    InvalidTrustChain,
    InvalidTrustMark,
    NotFound,
    PolicyError,
    ServerError,
    TemporarilyUnavailable,
    UnsupportedParameter,
)
from federation.jose import DEFAULT_ALGORITHMS, SigningKey, public_jwks
from federation.policy import (
    STANDARD_OPERATORS,
    apply_policy,
    apply_superior_metadata,
    merge_policies,
    resolve_policy,
    validate_policy,
)
from federation.registration import (
    ExplicitRegistrationRequest,
    build_explicit_registration_response,
    parse_explicit_registration_request,
)
from federation.resolver import Clock, Fetch, StatementCache, TrustChainResolver
from federation.statements import (
    ENTITY_STATEMENT_MEDIA_TYPE,
    ENTITY_STATEMENT_TYP,
    EXPLICIT_REGISTRATION_RESPONSE_MEDIA_TYPE,
    WELL_KNOWN_PATH,
    EntityStatement,
    build_entity_configuration,
    build_subordinate_statement,
    entity_configuration_url,
    is_entity_identifier,
    parse_entity_statement,
    sign_entity_statement,
)
from federation.trust_marks import (
    TRUST_MARK_MEDIA_TYPE,
    TrustMark,
    build_trust_mark,
    build_trust_mark_delegation,
    parse_trust_mark,
    verify_trust_mark,
)

__all__ = [
    "DEFAULT_ALGORITHMS", "ENTITY_STATEMENT_MEDIA_TYPE", "ENTITY_STATEMENT_TYP",
    "EXPLICIT_REGISTRATION_RESPONSE_MEDIA_TYPE", "RESOLVE_RESPONSE_MEDIA_TYPE", "STANDARD_OPERATORS",
    "TRUST_CHAIN_MEDIA_TYPE", "TRUST_MARK_MEDIA_TYPE", "TRUST_MARK_STATUSES",
    "TRUST_MARK_STATUS_RESPONSE_MEDIA_TYPE", "WELL_KNOWN_PATH",
    "Clock", "EntityStatement", "ExplicitRegistrationRequest", "FederationError", "Fetch", "FetchFailed",
    "InvalidClient", "InvalidIssuer", "InvalidMetadata", "InvalidRequest", "InvalidSubject",
    "InvalidTrustAnchor", "InvalidTrustChain", "InvalidTrustMark", "ListRequest", "NotFound", "PolicyError",
    "ResolveRequest", "ResolveResponse", "ServerError", "SigningKey", "StatementCache",
    "TemporarilyUnavailable", "TrustChain", "TrustChainResolver", "TrustMark", "UnsupportedParameter",
    "allowed_entity_types", "apply_policy", "apply_superior_metadata", "build_entity_configuration",
    "build_explicit_registration_response", "build_resolve_response", "build_subordinate_statement",
    "build_trust_mark", "build_trust_mark_delegation", "build_trust_mark_status_response",
    "enforce_constraints", "entity_configuration_url", "error_response", "fetch_request_url",
    "is_entity_identifier", "list_request_url", "list_response_body", "merge_policies", "name_matches",
    "parse_entity_statement", "parse_error_response", "parse_explicit_registration_request",
    "parse_fetch_request", "parse_list_request", "parse_list_response", "parse_resolve_request",
    "parse_resolve_response", "parse_trust_mark", "parse_trust_mark_status_request",
    "parse_trust_mark_status_response", "public_jwks", "resolve_policy", "resolve_request_url",
    "sign_entity_statement", "trust_mark_status_request_body", "validate_policy", "validate_trust_chain",
    "verify_trust_mark",
]
