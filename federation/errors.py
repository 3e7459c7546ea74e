"""Typed federation errors, one per error code of OpenID Federation 1.0 section 8.9.

Each error carries the code a federation endpoint answers with, the HTTP status the
specification recommends for it and a human reason (``description``) that is safe to show
the other party: it names what was wrong with their statement, never our internals.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FederationError(Exception):
    """Base of every refusal the library makes; ``error`` is the spec's error code."""

    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 500

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def to_dict(self) -> dict[str, Any]:
        """The error response body of section 8.9 (``application/json``)."""
        return {"error": self.error, "error_description": self.description}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


class InvalidRequest(FederationError):
    """The request is incomplete or does not comply with the specification."""

    error = "invalid_request"
    status_code = 400


class InvalidClient(FederationError):
    """The client cannot be authorised or is not a valid participant of the federation."""

    error = "invalid_client"
    status_code = 401


class InvalidIssuer(FederationError):
    """The endpoint cannot serve the requested issuer."""

    error = "invalid_issuer"
    status_code = 404


class InvalidSubject(FederationError):
    """The endpoint cannot serve the requested subject."""

    error = "invalid_subject"
    status_code = 404


class InvalidTrustAnchor(FederationError):
    """The trust anchor cannot be found or used."""

    error = "invalid_trust_anchor"
    status_code = 404


class InvalidTrustChain(FederationError):
    """The trust chain cannot be validated (signature, expiry, constraints, shape)."""

    error = "invalid_trust_chain"
    status_code = 400


class InvalidMetadata(FederationError):
    """Metadata or metadata policy values are invalid or conflict."""

    error = "invalid_metadata"
    status_code = 400


class PolicyError(InvalidMetadata):
    """A metadata policy is malformed, its operators conflict, or the metadata violates it.

    Section 6.1.4: a policy error makes the whole trust chain invalid; the code stays
    ``invalid_metadata``.
    """


class NotFound(FederationError):
    """The requested entity identifier cannot be found."""

    error = "not_found"
    status_code = 404


class ServerError(FederationError):
    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(FederationError):
    error = "temporarily_unavailable"
    status_code = 503


class UnsupportedParameter(FederationError):
    """The server does not support a request parameter (e.g. a listing filter)."""

    error = "unsupported_parameter"
    status_code = 400


class FetchFailed(FederationError):
    """Raised by the caller's fetch callable when a URL could not be fetched.

    The hub's guarded outbound client turns its timeouts, size limits and HTTP errors into
    this, so the library can report which statement was unreachable. It is a transient
    condition of the trust chain, so it answers ``invalid_trust_chain`` unless re-raised.
    """

    error = "invalid_trust_chain"
    status_code = 400


class InvalidTrustMark(FederationError):
    """A trust mark failed validation (section 7.3).

    ``status`` uses the vocabulary of the trust-mark status endpoint (section 8.4.2):
    ``invalid``, ``expired`` or ``revoked``. A trust mark belongs to the entity that shows
    it, so the error code is ``invalid_client``.
    """

    error = "invalid_client"
    status_code = 401

    def __init__(self, description: str, *, status: str = "invalid") -> None:
        super().__init__(description)
        self.status = status
