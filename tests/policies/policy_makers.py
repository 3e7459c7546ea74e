"""Makers for the policies tests: a fixed clock, registrations, subjects, policies.

A plain module (not conftest) so that test modules can import it by a unique name.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from policies import (
    ACR_MFA,
    AccessRequest,
    AssuranceLevel,
    ClientPolicy,
    Registration,
    SubjectFacts,
    Wording,
    load_policy,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# What the hub hands policies for its registers (hub.verification.registry.policy_wording);
# written out here because policies, and so its tests, never import the hub.
WORDING = Wording(register_names={
    "dk-sst": "the Danish Authorisation Register",
    "nl-big": "the Dutch BIG register",
    "uk-gmc": "the UK General Medical Council register",
    "us-nppes": "the US NPPES registry",
})


def make_registration(
    *,
    country: str = "DK",
    register: str = "dk-sst",
    profession: str = "physician",
    level: str = "register_match",
    days_ago: float = 10,
    status: str = "active",
    specialties: tuple[str, ...] = (),
) -> Registration:
    return Registration(
        register=register,
        country=country,
        profession=profession,
        assurance_level=AssuranceLevel(level),
        verified_at=NOW - timedelta(days=days_ago),
        status=status,
        specialties=specialties,
    )


def make_subject(*registrations: Registration, **kwargs: Any) -> SubjectFacts:
    """A signed-in doctor; by default with a second factor and a verified email."""
    kwargs.setdefault("acr", ACR_MFA)
    kwargs.setdefault("email_verified", True)
    return SubjectFacts(registrations=registrations, **kwargs)


def make_request(*claims: str, **kwargs: Any) -> AccessRequest:
    return AccessRequest(now=kwargs.pop("now", NOW), claims=frozenset(claims), **kwargs)


def make_policy(access: dict[str, Any] | None = None, **top: Any) -> ClientPolicy:
    """A policy from a document; ``access`` defaults to verified physicians."""
    doc: dict[str, Any] = {"version": 1, "claims": {"allowed": ["sub", "verified_claims"]}}
    if access is not None:
        doc["access"] = access
    elif "areas" not in top:
        doc["access"] = {"professions": ["physician"], "min_assurance_level": "register_match"}
    doc.update(top)
    return load_policy(doc)
