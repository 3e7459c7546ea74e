"""Errors raised by the audit log; each message is safe to show to an operator."""

from __future__ import annotations


class AuditError(Exception):
    """Base class for every audit-log error."""


class UnknownEventError(AuditError, ValueError):
    """The event name is not in the vocabulary (hub/audit/events.py)."""


class AuditDetailError(AuditError, ValueError):
    """A detail or personal-data mapping was refused (secret, token, too large, bad type)."""


class AuditRangeError(AuditError, ValueError):
    """A time range for export or retention is malformed."""


class AuditConflictError(AuditError):
    """A concurrent append won the race for the same seq; the caller's transaction is spoilt.

    Only raised when ``append`` runs inside the caller's session, where it cannot retry;
    the standalone form retries on its own.
    """


class CheckpointKeyError(AuditError, ValueError):
    """A checkpoint key is missing, malformed or cannot sign (public key only)."""
