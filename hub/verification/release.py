"""Apply a relying party's ``verified_claims`` request (OIDC4IDA 1.0, "Requesting Verified
Claims") to the elements we could release.

- The request is one object or an array of objects; each is matched against every
  available element independently and the matches are returned (one object when an object
  was requested and one element matched, otherwise an array).
- ``value``/``values`` on ``trust_framework``, ``assurance_level`` and the other
  constrainable elements must be satisfied, ``max_age`` on ``time`` (and other date-time
  elements) must be met; otherwise that element is left out entirely, as the spec requires.
- Only requested verification members are returned (``trust_framework`` and the licence
  member always); evidence is filtered by its ``type`` and projected onto the requested
  members.
- Only the requested claims are returned (``null`` or an object such as
  ``{"essential": true}`` both mean "asked for"); an element with none of the requested
  claims, or a request with ``"claims": null``, releases nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from hub.persistence.db import utcnow
from hub.verification.schemas import validate_verified_claims_request
from hub.verification.vocabulary import LICENCE_MEMBER

_FAIL = object()
# Released whether asked for or not: the framework (OIDC4IDA requires it) and what the
# register says of the licence, so that a restricted licence never reads as a clean one.
_ALWAYS = ("trust_framework", LICENCE_MEMBER)


def _time(value: str) -> datetime | None:
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _leaf(value: Any, spec: Any, now: datetime) -> Any:
    """Check a constraint on a scalar; return the value or _FAIL."""
    if not isinstance(spec, Mapping):
        return value
    if "value" in spec and value != spec["value"]:
        return _FAIL
    if "values" in spec and value not in spec["values"]:
        return _FAIL
    if "max_age" in spec:
        t = _time(value) if isinstance(value, str) else None
        if t is None or (now - t).total_seconds() > spec["max_age"]:
            return _FAIL
    return value


def _constrained(spec: Any) -> bool:
    return isinstance(spec, Mapping) and any(k in spec for k in ("value", "values", "max_age"))


def _project(value: Any, spec: Any, now: datetime) -> Any:
    """``value`` reduced to what ``spec`` asks for, or _FAIL when a constraint fails."""
    if spec is None:
        return value
    if isinstance(value, Mapping) and isinstance(spec, Mapping):
        out: dict[str, Any] = {}
        for key, sub in spec.items():
            if key not in value:
                if _constrained(sub):
                    return _FAIL
                continue
            got = _project(value[key], sub, now)
            if got is _FAIL:
                return _FAIL
            out[key] = got
        return out
    if isinstance(value, list) and isinstance(spec, list):
        template = spec[0] if spec else None
        items = [got for item in value if (got := _project(item, template, now)) is not _FAIL]
        return items or _FAIL
    if isinstance(value, (Mapping, list)):
        return value if not _constrained(spec) else _FAIL
    return _leaf(value, spec, now)


def _evidence(available: Sequence[Any], requested: Sequence[Any], now: datetime) -> Any:
    chosen = []
    for item in available:
        for spec in requested:
            if not isinstance(spec, Mapping):
                continue
            if _leaf(item.get("type"), spec.get("type"), now) is _FAIL:
                continue
            got = _project(item, {**spec, "type": None}, now)
            if got is not _FAIL:
                chosen.append(got)
                break
    return chosen or _FAIL


def _verification(have: Mapping[str, Any], spec: Mapping[str, Any], now: datetime) -> Any:
    out: dict[str, Any] = {}
    for key in _ALWAYS:
        if key not in have:
            if _constrained(spec.get(key)):
                return _FAIL
            continue
        if _leaf(have[key], spec.get(key), now) is _FAIL:
            return _FAIL
        out[key] = have[key]
    for key, sub in spec.items():
        if key in _ALWAYS:
            continue
        if key not in have:
            if _constrained(sub) or key == "evidence":
                return _FAIL
            continue
        if key == "evidence":
            got = _evidence(have[key], sub if isinstance(sub, list) else [], now)
        else:
            got = _project(have[key], sub, now)
        if got is _FAIL:
            return _FAIL
        out[key] = got
    return out


def _apply(element: Mapping[str, Any], request: Mapping[str, Any], now: datetime) -> Any:
    verification = _verification(element["verification"], request.get("verification") or {}, now)
    wanted = request.get("claims")
    if verification is _FAIL or not isinstance(wanted, Mapping):
        return None
    claims = {name: element["claims"][name] for name in wanted if name in element["claims"]}
    if not claims:
        return None
    return {"verification": verification, "claims": claims}


def filter_verified_claims(
    available: Sequence[Mapping[str, Any]],
    request: Any,
    *,
    now: datetime | None = None,
    member: str = "userinfo",
    validate: bool = True,
) -> dict[str, Any] | list[dict[str, Any]] | None:
    """What to release for ``request`` (the verified_claims member of the claims request
    parameter's ``id_token`` or ``userinfo`` object). Raises InvalidClaimsRequest when the
    request does not follow the OIDC4IDA request schema."""
    if request is None:
        return None
    if validate:
        validate_verified_claims_request(request, member)
    now = now or utcnow()
    out: list[dict[str, Any]] = []
    for req in request if isinstance(request, list) else [request]:
        for element in available:
            got = _apply(element, req, now)
            if got is not None and got not in out:
                out.append(got)
    if not out:
        return None
    return out[0] if isinstance(request, Mapping) and len(out) == 1 else out
