"""Which claims a doctor releases, by scope and by the ``claims`` request parameter.

OIDC Core §5.4 maps scopes to claims; §5.5 lets the client ask for single claims in the
ID token or at userinfo. Only claims the doctor consented to are ever released.

``verified_claims`` (OpenID Connect for Identity Assurance 1.0) is one consent item: a
client asks for it in the claims parameter (OIDC4IDA 1.0, "Requesting Verified Claims")
or with our physician scope, which stands for
:data:`hub.verification.claims.DEFAULT_REQUEST`. The self-declared profession is a
separate claim and never part of ``verified_claims``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError, scope_to_list
from sqlalchemy import select

from hub.persistence.models.accounts import DoctorRecord
from hub.persistence.models.registers import SelfDeclaredProfession
from hub.verification import records
from hub.verification.claims import DEFAULT_REQUEST
from hub.verification.schemas import InvalidClaimsRequest, validate_verified_claims_request
from hub.verification.vocabulary import SELF_DECLARED_CLAIM

if TYPE_CHECKING:
    from hub.persistence.db import Database

VERIFIED_CLAIMS = "verified_claims"
# A scope of our own for integrations that do not build a claims request; a URI so that it
# cannot collide with another provider's scope of the same short name (RFC 6749 §3.3 allows
# any scope token; OIDC Core §5.1.2 recommends collision-resistant names for claims).
PHYSICIAN_SCOPE = "https://curbside.health/scopes/physician"
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "locale"),
    "email": ("email", "email_verified"),
    PHYSICIAN_SCOPE: (VERIFIED_CLAIMS,),
}
STANDARD_CLAIMS = ("sub", "name", "given_name", "family_name", "email", "email_verified", "locale")
# Claims beyond OIDC Core §5.1 that a client may ask for by name in the claims parameter.
EXTENSION_CLAIMS = (VERIFIED_CLAIMS, SELF_DECLARED_CLAIM)
_REQUESTABLE = frozenset(STANDARD_CLAIMS) - {"sub"} | frozenset(EXTENSION_CLAIMS)
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
            v is not None and not isinstance(v, dict) and k != VERIFIED_CLAIMS for k, v in part.items()
        ):
            raise InvalidRequestError(f"The 'claims.{member}' member must map names to objects or null.")
        sub = part.get("sub")
        if isinstance(sub, dict) and "value" in sub and not (
                isinstance(sub["value"], str) and sub["value"]):
            raise InvalidRequestError(f"The 'claims.{member}.sub.value' must be a non-empty string.")
        if VERIFIED_CLAIMS in part:
            # OIDC4IDA 1.0, "Requesting Verified Claims": the request must follow its
            # schema (an object or an array of them, each with verification and claims);
            # anything else is invalid_request at /authorize, not silently ignored.
            try:
                validate_verified_claims_request(part[VERIFIED_CLAIMS], member)
            except InvalidClaimsRequest:
                raise InvalidRequestError(
                    f"The 'claims.{member}.verified_claims' request does not follow "
                    "OpenID Connect for Identity Assurance 1.0."
                ) from None
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
            if name in _REQUESTABLE:
                names.add(name)
    return names


def member_claims(claims_request: dict[str, Any] | None, member: str) -> set[str]:
    return {n for n in ((claims_request or {}).get(member) or {})
            if n in STANDARD_CLAIMS or n in EXTENSION_CLAIMS}


def doctor_claims(doctor: DoctorRecord, names: set[str]) -> dict[str, Any]:
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


def requested_subject(claims_request: dict[str, Any] | None) -> str | None:
    """The ``sub`` value the ID token must carry, or None (OIDC Core §3.1.2.2 point 4 with
    §5.5.1's ``value``): a positive answer only for the doctor it names. A value asked for
    at userinfo only is not such a demand: the rule names the ID token, and the network
    compares the userinfo ``sub`` with the ID token's itself (§5.3.2)."""
    spec = ((claims_request or {}).get("id_token") or {}).get("sub")
    if isinstance(spec, dict) and isinstance(spec.get("value"), str):
        return spec["value"]
    return None


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


def verified_claims_request(record: dict[str, Any] | None, scope: str, member: str) -> Any:
    """The verified_claims request to apply for one response, or None: only when the doctor
    consented to verified_claims and the client asked for it there (its own request wins
    over the physician scope's default)."""
    record = record or {}
    if VERIFIED_CLAIMS not in (record.get("released") or ()):
        return None
    asked = (record.get("request") or {}).get(member) or {}
    if VERIFIED_CLAIMS in asked:
        return asked[VERIFIED_CLAIMS]
    if VERIFIED_CLAIMS in claims_for_scope(scope):
        return DEFAULT_REQUEST
    return None


def verification_claims(db: Database, doctor_id: str, names: set[str], vc_request: Any,
                        member: str) -> dict[str, Any]:
    """``verified_claims`` and the self-declared profession for one response. Touches the
    database only when one of them was requested and consented (the common sign-in pays
    nothing)."""
    if vc_request is None and SELF_DECLARED_CLAIM not in names:
        return {}
    out: dict[str, Any] = {}
    with db.session() as s:
        if vc_request is not None:
            # Validated at /authorize (parse_claims_request); the filter leaves out every
            # element whose constraints are unmet, possibly all of them (OIDC4IDA 1.0,
            # "Requesting Verified Claims").
            value = records.load(s, doctor_id).release(vc_request, member=member, validate=False)
            if value:
                out[VERIFIED_CLAIMS] = value
        if SELF_DECLARED_CLAIM in names:
            declared = s.execute(select(SelfDeclaredProfession.profession).where(
                SelfDeclaredProfession.doctor_id == doctor_id)).scalar_one_or_none()
            if declared:
                out[SELF_DECLARED_CLAIM] = declared
    return out
