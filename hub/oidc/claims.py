"""Which claims a doctor releases, by scope and by the ``claims`` request parameter.

OIDC Core §5.4 maps scopes to claims; §5.5 lets the client ask for single claims in the
ID token or at userinfo. Only claims the doctor consented to are ever released.
"""

from __future__ import annotations

import json
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, scope_to_list

from hub.models.accounts import Doctor

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "locale"),
    "email": ("email", "email_verified"),
}
STANDARD_CLAIMS = ("sub", "name", "given_name", "family_name", "email", "email_verified", "locale")
# Claims about the authentication itself; requesting them needs no consent.
AUTH_CLAIMS = ("acr", "auth_time", "amr")
MAX_CLAIMS_PARAM = 4096


def parse_claims_request(raw: str | None) -> dict[str, Any] | None:
    """Validate the ``claims`` parameter (OIDC Core §5.5): a JSON object of two members."""
    if not raw:
        return None
    if len(raw) > MAX_CLAIMS_PARAM:
        raise InvalidRequestError("The 'claims' parameter is too large.")
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidRequestError("The 'claims' parameter is not valid JSON.") from None
    if not isinstance(value, dict):
        raise InvalidRequestError("The 'claims' parameter must be a JSON object.")
    for member in ("id_token", "userinfo"):
        part = value.get(member)
        if part is None:
            continue
        if not isinstance(part, dict) or any(
            v is not None and not isinstance(v, dict) for v in part.values()
        ):
            raise InvalidRequestError(f"The 'claims.{member}' member must map names to objects or null.")
    return value


def claims_for_scope(scope: str) -> set[str]:
    names: set[str] = set()
    for s in scope_to_list(scope) or []:
        names.update(SCOPE_CLAIMS.get(s, ()))
    return names


def requested_claim_names(scope: str, claims_request: dict[str, Any] | None) -> set[str]:
    """Every personal claim this request could release: what consent must cover."""
    names = claims_for_scope(scope)
    for member in ("id_token", "userinfo"):
        for name in (claims_request or {}).get(member) or {}:
            if name in STANDARD_CLAIMS and name != "sub":
                names.add(name)
    return names


def member_claims(claims_request: dict[str, Any] | None, member: str) -> set[str]:
    return {n for n in ((claims_request or {}).get(member) or {}) if n in STANDARD_CLAIMS}


def doctor_claims(doctor: Doctor, names: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": doctor.name or None,
        "given_name": doctor.given_name or None,
        "family_name": doctor.family_name or None,
        "email": doctor.email,
        "email_verified": bool(doctor.email_verified),
        "locale": doctor.locale,
    }
    # OIDC Core §5.3.2: claims without a value are omitted rather than sent as null.
    return {k: values[k] for k in sorted(names) if k in values and values[k] is not None}


def essential_acr_values(claims_request: dict[str, Any] | None) -> list[str] | None:
    """acr requested as essential in the ID token (OIDC Core §5.5.1.1), else None."""
    spec = ((claims_request or {}).get("id_token") or {}).get("acr")
    if not isinstance(spec, dict) or not spec.get("essential"):
        return None
    if isinstance(spec.get("values"), list):
        return [str(v) for v in spec["values"]]
    if isinstance(spec.get("value"), str):
        return [spec["value"]]
    return None


def release_record(claims_request: dict[str, Any] | None, consented: set[str]) -> dict[str, Any]:
    """What travels with a code, grant and access token: the request and the consented set."""
    return {"request": claims_request, "released": sorted(consented)}


def released(record: dict[str, Any] | None, scope: str, member: str) -> set[str]:
    """Claims for one response (ID token or userinfo): asked for there, and consented."""
    record = record or {}
    wanted = claims_for_scope(scope) | member_claims(record.get("request"), member)
    return wanted & set(record.get("released") or ())
