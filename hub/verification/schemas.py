"""Validation against the official OIDC4IDA 1.0 JSON Schemas (draft 2020-12), shipped in
``schemas/`` beside this module (copied from the OpenID Foundation eKYC & IDA working
group's repository; see /shared/spec/oidc4ida/README.md of the project)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
from referencing import Registry, Resource

_FILES = ("claims_schema.json", "verified_claims.json", "verified_claims_request.json")


class InvalidClaimsRequest(ValueError):
    """The verified_claims request does not follow OIDC4IDA (map to invalid_request)."""


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    base = resources.files("hub.verification") / "schemas"
    return {name: json.loads((base / name).read_text("utf-8")) for name in _FILES}


@cache
def _validator(name: str) -> Draft202012Validator:
    schemas = _schemas()
    registry: Registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values()
    )
    return Draft202012Validator(schemas[name], registry=registry, format_checker=FormatChecker())


def validate_verified_claims(obj: dict[str, Any]) -> None:
    """Validate an ID token / userinfo fragment holding ``verified_claims`` (or the bare
    verified_claims value); raises jsonschema.ValidationError."""
    if "verified_claims" not in obj:
        obj = {"verified_claims": obj}
    _validator("verified_claims.json").validate(obj)


def validate_verified_claims_request(request: Any, member: str = "userinfo") -> None:
    """Validate the ``verified_claims`` element of a claims request parameter."""
    try:
        _validator("verified_claims_request.json").validate({member: {"verified_claims": request}})
    except ValidationError as exc:
        raise InvalidClaimsRequest(f"invalid verified_claims request: {exc.message}") from None
