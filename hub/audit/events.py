"""The one vocabulary of audit events: ``source:subject:action``.

Every append names an event from this registry, so a typo is an error at the call site
instead of a record nobody will ever search for. New events are added here (or, for
code outside the hub, with :func:`register_event` at import time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from hub.audit.errors import UnknownEventError

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")


class AuditEvent(StrEnum):
    # Sign-in and second factor.
    AUTH_LOGIN_SUCCESS = "auth:login:success"
    AUTH_LOGIN_FAILURE = "auth:login:failure"
    AUTH_LOGOUT_SUCCESS = "auth:logout:success"
    AUTH_MFA_ENROL = "auth:mfa:enrol"
    AUTH_MFA_REMOVE = "auth:mfa:remove"
    AUTH_MFA_FAILURE = "auth:mfa:failure"
    AUTH_PASSWORD_CHANGE = "auth:password:change"
    AUTH_PASSWORD_RESET = "auth:password:reset"
    AUTH_ACCOUNT_LOCKED = "auth:account:locked"
    # The doctor's account, linked identities, verification and consent.
    DOCTOR_ACCOUNT_CREATE = "doctor:account:create"
    DOCTOR_ACCOUNT_ERASE = "doctor:account:erase"
    DOCTOR_ACCOUNT_SUSPEND = "doctor:account:suspend"
    DOCTOR_ACCOUNT_UNSUSPEND = "doctor:account:unsuspend"
    DOCTOR_LINK_ADD = "doctor:link:add"
    DOCTOR_LINK_REVOKE = "doctor:link:revoke"
    DOCTOR_VERIFICATION_VERIFIED = "doctor:verification:verified"
    DOCTOR_VERIFICATION_WITHDRAWN = "doctor:verification:withdrawn"
    DOCTOR_VERIFICATION_FAILED = "doctor:verification:failed"
    DOCTOR_CONSENT_GRANT = "doctor:consent:grant"
    DOCTOR_CONSENT_REVOKE = "doctor:consent:revoke"
    # Relying parties.
    CLIENT_REGISTRATION_CREATE = "client:registration:create"
    CLIENT_REGISTRATION_APPROVED = "client:registration:approved"
    CLIENT_REGISTRATION_REJECTED = "client:registration:rejected"
    CLIENT_REGISTRATION_UPDATE = "client:registration:update"
    CLIENT_REGISTRATION_DELETE = "client:registration:delete"
    CLIENT_SECRET_ROTATE = "client:secret:rotate"
    CLIENT_POLICY_UPDATE = "client:policy:update"
    # Administrators.
    ADMIN_SESSION_REVOKE = "admin:session:revoke"
    ADMIN_VERIFICATION_RECHECK = "admin:verification:recheck"
    ADMIN_ACCESS_DENIED = "admin:access:denied"
    ADMIN_ROLE_GRANT = "admin:role:grant"
    ADMIN_ROLE_REVOKE = "admin:role:revoke"
    ADMIN_ACCOUNT_DISABLE = "admin:account:disable"
    # The OpenID Provider itself.
    OIDC_TOKEN_REUSE_DETECTED = "oidc:token:reuse_detected"
    OIDC_GRANT_REVOKE = "oidc:grant:revoke"
    OIDC_LOGOUT_DELIVERY_FAILED = "oidc:logout:delivery_failed"
    KEYS_SIGNING_ROTATE = "keys:signing:rotate"
    KEYS_SIGNING_RETIRE = "keys:signing:retire"
    # The audit log about itself (written by hub.audit, not by callers).
    AUDIT_PERSONAL_DATA_ERASE = "audit:personal_data:erase"
    AUDIT_PERSONAL_DATA_EXPIRE = "audit:personal_data:expire"
    AUDIT_LOG_EXPORT = "audit:log:export"


@dataclass(frozen=True)
class EventType:
    name: str
    source: str
    subject: str
    action: str


_REGISTRY: dict[str, EventType] = {}


def register_event(name: str) -> EventType:
    """Add an event name to the vocabulary (idempotent); the name must be well formed."""
    if not EVENT_NAME.fullmatch(name):
        raise UnknownEventError(
            f"event name {name!r} is not of the form source:subject:action "
            "(lower case letters, digits and underscores)"
        )
    existing = _REGISTRY.get(name)
    if existing is not None:
        return existing
    source, subject, action = name.split(":")
    event_type = EventType(name, source, subject, action)
    _REGISTRY[name] = event_type
    return event_type


def get_event(name: str | AuditEvent) -> EventType:
    """The registered event, or :class:`UnknownEventError` naming the bad name."""
    event_type = _REGISTRY.get(str(name))
    if event_type is None:
        raise UnknownEventError(f"unknown audit event {str(name)!r}; add it to hub/audit/events.py")
    return event_type


def registered_events() -> list[str]:
    return sorted(_REGISTRY)


for _member in AuditEvent:
    register_event(_member.value)
