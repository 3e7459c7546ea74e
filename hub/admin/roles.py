"""Roles and what each may do. One table, so a reviewer can read the whole policy at once."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AUDITOR = "auditor"  # reads everything, changes nothing
    VERIFIER = "verifier"  # works the verification review queue
    ADMIN = "admin"  # everything


class Permission(StrEnum):
    VIEW = "view"  # every page, the audit verification and export
    REVIEW = "review"  # approve registrations waiting in the review queue
    MANAGE_DOCTORS = "manage_doctors"  # suspend, unsuspend, end sessions
    MANAGE_CLIENTS = "manage_clients"  # approve, suspend relying parties


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.AUDITOR: frozenset({Permission.VIEW}),
    Role.VERIFIER: frozenset({Permission.VIEW, Permission.REVIEW}),
    Role.ADMIN: frozenset(Permission),
}


def allows(role: str, permission: Permission) -> bool:
    """Unknown roles may do nothing (a typo in the database must not grant anything)."""
    try:
        return permission in GRANTS[Role(role)]
    except ValueError:
        return False
