from __future__ import annotations

import pytest

from hub.audit import AuditEvent, UnknownEventError, get_event, register_event, registered_events

REQUIRED = [
    "auth:login:success", "auth:login:failure", "auth:mfa:enrol", "doctor:link:add",
    "doctor:link:revoke", "doctor:verification:verified", "doctor:verification:withdrawn",
    "doctor:consent:grant", "doctor:consent:revoke", "client:registration:create",
    "client:registration:approved", "client:secret:rotate", "admin:session:revoke",
    "admin:access:denied", "oidc:token:reuse_detected", "keys:signing:rotate",
]  # fmt: skip


def test_vocabulary_has_the_issue_events() -> None:
    assert set(REQUIRED) <= set(registered_events())


def test_every_enum_member_is_source_subject_action() -> None:
    for member in AuditEvent:
        event = get_event(member)
        assert f"{event.source}:{event.subject}:{event.action}" == member.value


@pytest.mark.parametrize("name", ["auth:login:sucess", "auth:login", "", "AUTH:LOGIN:SUCCESS"])
def test_unknown_event_is_refused(name: str) -> None:
    with pytest.raises(UnknownEventError, match="unknown audit event"):
        get_event(name)


@pytest.mark.parametrize("name", ["a:b", "a:b:c:d", "Auth:x:y", "a b:c:d", "a:b:-c"])
def test_malformed_names_cannot_be_registered(name: str) -> None:
    with pytest.raises(UnknownEventError, match="source:subject:action"):
        register_event(name)


def test_register_is_idempotent() -> None:
    assert register_event("connector:feed:fetch_failed") is register_event("connector:feed:fetch_failed")
    assert get_event("connector:feed:fetch_failed").action == "fetch_failed"
