"""Typed errors: the only exceptions that leave the ``connectors`` package.

After ory/fosite, each error carries a public ``hint`` (safe to show a doctor or an admin:
no URLs, tokens or upstream bodies) and a private ``detail`` for logs. ``reason`` is a short
machine-readable code for metrics, audit details and the hub's retry decisions.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class. ``str(error)`` is the public hint only."""

    default_hint = "The partner network could not be reached or understood."
    default_reason = "connector_error"

    def __init__(
        self,
        hint: str | None = None,
        *,
        reason: str | None = None,
        detail: str = "",
        network: str = "",
    ) -> None:
        self.hint = hint or self.default_hint
        self.reason = reason or self.default_reason
        self.detail = detail
        self.network = network
        super().__init__(self.hint)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, network={self.network!r})"


class ConfigError(ConnectorError, ValueError):
    """A connector's configuration is missing, unknown or malformed; the hint names the key."""

    default_hint = "Invalid connector configuration."
    default_reason = "invalid_config"


class UpstreamUnavailable(ConnectorError):
    """Transient: timeout, connection failure, 5xx, 429, circuit open. Retry later.

    ``retry_after`` (seconds) is set when the upstream said how long to wait (RFC 9110 §10.2.3).
    Only this class counts as a failure for the circuit breaker.
    """

    default_hint = "The partner network is unavailable right now. Please try again later."
    default_reason = "unavailable"

    def __init__(
        self,
        hint: str | None = None,
        *,
        reason: str | None = None,
        detail: str = "",
        network: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(hint, reason=reason, detail=detail, network=network)
        self.retry_after = retry_after


class UpstreamRejected(ConnectorError):
    """The upstream refused: 4xx, ``access_denied``, ``invalid_grant``, a revoked token.

    ``reason`` is the upstream's OAuth error code where there is one (RFC 6749 §5.2), or
    ``invalid_token`` for a 401 on a resource (RFC 6750 §3.1) so the hub can refresh or relink.
    """

    default_hint = "The partner network refused the request."
    default_reason = "rejected"


class InvalidUpstreamData(ConnectorError):
    """What came back is malformed, too large, of the wrong shape, or fails verification."""

    default_hint = "The partner network sent data that could not be accepted."
    default_reason = "invalid_data"


class BlockedAddress(UpstreamRejected):
    """A URL resolved to a loopback, private, link-local or reserved address (SSRF guard)."""

    default_hint = "That address cannot be used."
    default_reason = "blocked_address"


class WebhookRejected(InvalidUpstreamData):
    """A pushed message failed verification (signature, timestamp, size) or was a replay."""

    default_hint = "The webhook could not be verified."
    default_reason = "webhook_rejected"
