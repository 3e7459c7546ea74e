"""Sample doctors for the operator portal's dry run, read from a small YAML document.

Verification times are written as ``verified_days_ago`` and turned into datetimes
against the ``now`` the caller passes, so the samples never go stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final, cast

import jsonschema

from policies.facts import Registration, SubjectFacts
from policies.parsing import Format, check_size, parse_document
from policies.schema import validate_against_schema
from policies.vocabulary import ACR_ORDER, PROFESSIONS, AssuranceLevel

_REGISTRATION: Final = {
    "type": "object",
    "additionalProperties": False,
    "required": ["register", "country", "profession", "assurance_level", "verified_days_ago"],
    "properties": {
        "register": {
            "type": "string",
            "pattern": "^[a-z]{2}-[a-z0-9]+$",
            "description": 'a register id such as "uk-gmc"',
        },
        "country": {
            "type": "string",
            "pattern": "^[A-Z]{2}$",
            "description": 'an ISO 3166-1 alpha-2 country code in capitals, such as "DK"',
        },
        "profession": {"enum": list(PROFESSIONS)},
        "assurance_level": {
            "enum": [level.value for level in AssuranceLevel][1:],  # registers only
        },
        "verified_days_ago": {"type": "integer", "minimum": 0},
        "status": {"type": "string", "minLength": 1},
        "specialties": {"type": "array", "items": {"type": "string"}},
    },
}

_PROFILES_SCHEMA: Final = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Curbside sample profiles",
    "type": "object",
    "propertyNames": {
        "type": "string",
        "pattern": "^[a-z][a-z0-9-]{0,63}$",
        "description": 'a profile name in lower case, such as "danish-gp"',
    },
    "additionalProperties": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "registrations": {"type": "array", "items": _REGISTRATION},
            "self_declared_profession": {"enum": list(PROFESSIONS)},
            "acr": {"enum": list(ACR_ORDER)},
            "amr": {"type": "array", "items": {"type": "string"}},
            "email_verified": {"type": "boolean"},
        },
    },
}

_VALIDATOR: Final = jsonschema.Draft202012Validator(_PROFILES_SCHEMA)


def load_profiles(
    source: str | bytes | Mapping[str, Any], *, now: datetime, format: Format | None = None
) -> dict[str, SubjectFacts]:
    """Sample profiles by name, in document order. Raises PolicyError like load_policy."""
    if isinstance(source, str | bytes):
        document = parse_document(source, format)
    else:  # already parsed, e.g. from a JSON column: still checked like text
        check_size(source)
        document = source
    validate_against_schema(document, _VALIDATOR)
    profiles = cast(Mapping[str, Mapping[str, Any]], document)
    return {name: _facts(profile, now) for name, profile in profiles.items()}


def _facts(profile: Mapping[str, Any], now: datetime) -> SubjectFacts:
    return SubjectFacts(
        registrations=tuple(
            Registration(
                register=r["register"],
                country=r["country"],
                profession=r["profession"],
                assurance_level=AssuranceLevel(r["assurance_level"]),
                verified_at=now - timedelta(days=r["verified_days_ago"]),
                status=r.get("status", "active"),
                specialties=tuple(r.get("specialties", ())),
            )
            for r in profile.get("registrations", ())
        ),
        self_declared_profession=profile.get("self_declared_profession"),
        acr=profile.get("acr"),
        amr=tuple(profile.get("amr", ())),
        email_verified=profile.get("email_verified", False),
    )
