"""The JSON Schema (draft 2020-12) of a client policy document, and plain-words errors.

``additionalProperties: false`` on every object: an unknown key is far more often a typo
of a restriction (``jurisdiction:``) than an extension, and a typo that silently drops a
restriction opens the network to people the operator meant to keep out. The one map in
the document, ``areas``, constrains its keys with ``propertyNames`` and its values with
the closed ``access_rule`` schema.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from typing import Any, Final

import jsonschema

from policies.errors import PolicyError, Problem, json_pointer
from policies.vocabulary import ACR_ORDER, CLAIMS, PROFESSIONS, AssuranceLevel, SubjectType

SCHEMA_ID: Final = "https://curbside.health/schemas/client-policy/v1"

_AREA_NAME: Final = {
    "type": "string",
    "pattern": "^[a-z][a-z0-9_-]{0,31}$",
    "description": 'an area name: lower case letters, digits, "_" or "-", such as "clinical"',
}


def _set_of(items: Mapping[str, Any], max_items: int, description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": max_items,
        "uniqueItems": True,
        "items": dict(items),
        "description": description,
    }


_ACCESS_RULE: Final = {
    "type": "object",
    "description": "Who may enter. Every condition given must hold; an absent one is no limit.",
    "additionalProperties": False,
    "required": ["min_assurance_level"],
    "properties": {
        "professions": _set_of(
            {"enum": list(PROFESSIONS)}, len(PROFESSIONS), "accepted professions (any of)"
        ),
        "min_assurance_level": {
            "enum": [level.value for level in AssuranceLevel],
            "description": "the weakest assurance level accepted",
        },
        "max_verification_age": {
            "type": "string",
            "pattern": "^P[1-9][0-9]{0,4}D$",
            "description": 'an ISO 8601 duration in whole days, such as "P365D"',
        },
        "jurisdictions": _set_of(
            {
                "type": "string",
                "pattern": "^[A-Z]{2}$",
                "description": 'an ISO 3166-1 alpha-2 country code in capitals, such as "DK"',
            },
            250,
            "countries whose licences are accepted (any of)",
        ),
        "registers": _set_of(
            {
                "type": "string",
                "pattern": "^[a-z]{2}-[a-z0-9]+$",
                "description": 'a register id such as "uk-gmc"',
            },
            50,
            "registers whose verifications are accepted (any of)",
        ),
        "specialties": _set_of(
            {
                "type": "string",
                "pattern": "^[a-z][a-z0-9_]{0,63}$",
                "description": 'a specialty id in lower case, such as "general_practice"',
            },
            100,
            "required specialties (any of)",
        ),
        "min_acr": {
            "enum": list(ACR_ORDER),
            "description": "the weakest acr of the sign-in session accepted",
        },
        "unrestricted_licence": {
            "type": "boolean",
            "description": "true: only a licence the register states without conditions, "
            "undertakings or measures (a restricted or self-reported licence is refused)",
        },
    },
}

_CLAIM_LIST: Final = {
    "type": "array",
    "uniqueItems": True,
    "items": {"enum": list(CLAIMS)},
}

_POLICY_SCHEMA: Final = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "Curbside client policy",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "claims"],
    "properties": {
        "version": {
            "type": "integer",
            "minimum": 1,
            "description": "raised by the operator on every change",
        },
        "description": {"type": "string", "maxLength": 500},
        "subject_type": {"enum": [t.value for t in SubjectType]},
        "claims": {
            "type": "object",
            "additionalProperties": False,
            "required": ["allowed"],
            "properties": {
                "allowed": {**_CLAIM_LIST, "description": "claims the client may receive"},
                "essential": {
                    **_CLAIM_LIST,
                    "description": "claims released even when not requested; without them "
                    "the request is refused",
                },
            },
        },
        "access": {"$ref": "#/$defs/access_rule"},
        "areas": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 20,
            "propertyNames": _AREA_NAME,
            "additionalProperties": {"$ref": "#/$defs/access_rule"},
        },
        "default_area": _AREA_NAME,
        "require_trust_marks": {
            "type": "array",
            "maxItems": 10,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": "^\\S+$"},
            "description": "OpenID Federation trust mark types (URIs) the network must hold, "
            "verified in its trust chain; without them no doctor may enter",
        },
    },
    "$defs": {"access_rule": _ACCESS_RULE},
}

_VALIDATOR: Final = jsonschema.Draft202012Validator(_POLICY_SCHEMA)


def policy_schema() -> dict[str, Any]:
    """The schema as a fresh dict, safe to publish or modify."""
    return copy.deepcopy(_POLICY_SCHEMA)


def validate_against_schema(
    document: object, validator: jsonschema.protocols.Validator = _VALIDATOR
) -> None:
    """Raise PolicyError naming every offending field; return quietly if valid."""
    problems = sorted(
        {p for error in validator.iter_errors(document) for p in _problems(error)},
        key=lambda p: (p.path, p.detail),
    )
    if problems:
        raise PolicyError(problems)


# Norway's country code is the classic victim: YAML 1.1 reads an unquoted NO as false.
_YAML_BOOL_HINT: Final = (
    " (YAML reads unquoted yes, no, on, off and NO as true/false: put the value in quotes)"
)
_ARTICLE: Final = {
    "string": "a string",
    "integer": "an integer",
    "array": "a list",
    "object": "a mapping",
    "boolean": "true or false",
    "number": "a number",
}


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "empty"
    names = {str: "a string", int: "an integer", float: "a number", list: "a list"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"


def _problems(error: jsonschema.ValidationError) -> Iterable[Problem]:
    path = list(error.absolute_path)
    keyword = error.validator
    value = error.validator_value
    instance = error.instance
    hint = _YAML_BOOL_HINT if isinstance(instance, bool) else ""
    if "propertyNames" in error.absolute_schema_path:
        # jsonschema reports a bad key at its parent; the key itself is the culprit.
        where = json_pointer([*path, str(instance)])
        if isinstance(instance, str):
            expected = error.schema.get("description", "a valid name")
            yield Problem(where, f"{instance!r} is not {expected}")
        else:
            yield Problem(where, f"a name must be a string, not {_kind(instance)}")
    elif keyword == "additionalProperties" and isinstance(instance, Mapping):
        known = list(error.schema.get("properties", {}))
        for key in instance:
            if key not in known:
                near = difflib.get_close_matches(str(key), known, n=1)
                tip = f"; did you mean {near[0]!r}?" if near else ""
                yield Problem(json_pointer([*path, str(key)]), f"unknown field{tip}")
    elif keyword == "required" and isinstance(instance, Mapping):
        for name in value:
            if name not in instance:
                yield Problem(json_pointer([*path, name]), "required field is missing")
    elif keyword == "type":
        expected = _ARTICLE.get(str(value), str(value))
        yield Problem(json_pointer(path), f"must be {expected}, not {_kind(instance)}{hint}")
    elif keyword == "enum":
        choices = ", ".join(str(v) for v in value)
        yield Problem(json_pointer(path), f"{instance!r} is not one of: {choices}{hint}")
    elif keyword == "pattern":
        expected = error.schema.get("description", f"of the form {value}")
        yield Problem(json_pointer(path), f"{instance!r} is not {expected}")
    elif keyword in ("minItems", "minProperties") and value == 1:
        yield Problem(json_pointer(path), "must not be empty")
    elif keyword == "uniqueItems":
        yield Problem(json_pointer(path), "lists the same value more than once")
    elif keyword == "minimum":
        yield Problem(json_pointer(path), f"must be at least {value}")
    else:
        yield Problem(json_pointer(path), error.message)
