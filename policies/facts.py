"""What the hub knows about a doctor and a request: the plain data ``decide`` reads.

The hub builds these from its own records; nothing here looks anything up. Constructors
check the few invariants a wrong decision could hide (naive datetimes, unknown levels),
and raise ValueError: a bad fact is a bug in the caller, not a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from policies.vocabulary import PROFESSIONS, AssuranceLevel, Licence

ACTIVE = "active"

_COUNTRY = re.compile(r"[A-Z]{2}")


def _require_collection(name: str, value: object) -> None:
    # A bare string is iterable too, and would quietly become a set of its letters.
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} must be a collection of strings, not a single string")


def _require_profession(name: str, value: str) -> None:
    # Policies name professions from the same closed list; "Physician" or "doctor" would
    # never match a rule and would fail a doctor for no reason anyone could see.
    if value not in PROFESSIONS:
        raise ValueError(f"{name} must be one of {', '.join(PROFESSIONS)}, got {value!r}")


def _require_aware(name: str, value: datetime) -> None:
    # Comparing a naive and an aware datetime raises, and two naive ones in different
    # zones compare wrongly; a verification age must never depend on the server's zone.
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True)
class Registration:
    """One licence confirmed by a register, as last checked by a hub verifier."""

    register: str  # "nl-big", "uk-gmc", "us-nppes", "dk-sst", ...
    country: str  # ISO 3166-1 alpha-2 of the licensing jurisdiction: "GB", not "UK"
    profession: str  # one of vocabulary.PROFESSIONS
    assurance_level: AssuranceLevel
    verified_at: datetime  # when the register last confirmed it; timezone-aware
    status: str = ACTIVE  # anything but "active" (withdrawn, suspended, ...) never counts
    specialties: tuple[str, ...] = ()
    licence: Licence = Licence.UNRESTRICTED  # restricted: active, with conditions/measures

    def __post_init__(self) -> None:
        _require_profession("profession", self.profession)
        level = AssuranceLevel(self.assurance_level)  # ValueError on an unknown level
        if level is AssuranceLevel.SELF_DECLARED:
            raise ValueError(
                "a Registration is register-verified; use SubjectFacts.self_declared_profession"
            )
        if not _COUNTRY.fullmatch(self.country):
            raise ValueError(f"country must be an ISO 3166-1 alpha-2 code, got {self.country!r}")
        _require_aware("verified_at", self.verified_at)
        object.__setattr__(self, "assurance_level", level)
        object.__setattr__(self, "licence", Licence(self.licence))  # ValueError if unknown
        _require_collection("specialties", self.specialties)
        object.__setattr__(self, "specialties", tuple(self.specialties))

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True)
class SubjectFacts:
    """Everything ``decide`` may know about the signed-in doctor and their session."""

    registrations: tuple[Registration, ...] = ()
    self_declared_profession: str | None = None  # honour system; counts as self_declared
    acr: str | None = None  # the session's acr, e.g. "urn:curbside:acr:mfa"
    amr: tuple[str, ...] = ()  # RFC 8176 values of the session, e.g. ("pwd", "otp")
    email_verified: bool = False

    def __post_init__(self) -> None:
        _require_collection("amr", self.amr)
        if self.self_declared_profession is not None:
            _require_profession("self_declared_profession", self.self_declared_profession)
        object.__setattr__(self, "registrations", tuple(self.registrations))
        object.__setattr__(self, "amr", tuple(self.amr))


@dataclass(frozen=True)
class AccessRequest:
    """One authorization request, reduced to what a policy can judge."""

    now: datetime  # timezone-aware; passed in so that decide stays a pure function
    claims: frozenset[str] = field(default_factory=frozenset)  # requested claim names
    area: str | None = None  # None: the policy's default area
    acr_values: tuple[str, ...] = ()  # OpenID Connect Core 1.0 section 3.1.2.1
    # The trust mark types the client holds, verified in its trust chain by the caller
    # (OpenID Federation 1.0 section 7.3); empty for a client that did not join by trust.
    client_trust_marks: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        _require_aware("now", self.now)
        _require_collection("claims", self.claims)
        _require_collection("acr_values", self.acr_values)
        claims: Iterable[str] = self.claims
        object.__setattr__(self, "claims", frozenset(claims))
        object.__setattr__(self, "acr_values", tuple(self.acr_values))
        _require_collection("client_trust_marks", self.client_trust_marks)
        marks: Iterable[str] = self.client_trust_marks
        object.__setattr__(self, "client_trust_marks", frozenset(marks))
