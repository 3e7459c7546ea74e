"""Request and response formats of the federation endpoints (section 8): fetch, subordinate
listing, resolve and trust mark status, plus the error response of section 8.9.

Request parameters arrive as a mapping of names to a string or a list of strings (what
``urllib.parse.parse_qs`` or a multi-dict's ``to_dict(flat=False)`` gives), so the hub can
pass whatever its web layer parsed. Parameters this library does not know are ignored
(section 8), except where the specification demands ``unsupported_parameter``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from federation import errors, jose
from federation.chain import TrustChain
from federation.errors import FederationError, InvalidRequest, UnsupportedParameter
from federation.jose import SigningKey
from federation.statements import is_entity_identifier
from federation.trust_marks import TrustMark

JSON_MEDIA_TYPE = "application/json"
RESOLVE_RESPONSE_TYP = "resolve-response+jwt"
RESOLVE_RESPONSE_MEDIA_TYPE = "application/resolve-response+jwt"
TRUST_MARK_STATUS_RESPONSE_TYP = "trust-mark-status-response+jwt"
TRUST_MARK_STATUS_RESPONSE_MEDIA_TYPE = "application/trust-mark-status-response+jwt"
TRUST_MARK_STATUSES = ("active", "expired", "revoked", "invalid")  # section 8.4.2

Params = Mapping[str, str | Sequence[str]]


def _values(params: Params, name: str) -> list[str]:
    value = params.get(name)
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _single(params: Params, name: str, *, required: bool) -> str | None:
    values = _values(params, name)
    if len(values) > 1:
        raise InvalidRequest(f"the {name} parameter is given more than once")
    if not values or not values[0]:
        if required:
            raise InvalidRequest(f"the required parameter {name} is missing")
        return None
    return values[0]


def _required(params: Params, name: str) -> str:
    value = _single(params, name, required=True)
    if value is None:  # _single raised already; this keeps the type checker informed
        raise InvalidRequest(f"the required parameter {name} is missing")
    return value


def _entity_id(params: Params, name: str) -> str:
    value = _required(params, name)
    if not is_entity_identifier(value):
        raise InvalidRequest(f"the {name} parameter is not an Entity Identifier")
    return value


def _boolean(params: Params, name: str) -> bool | None:
    value = _single(params, name, required=False)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise InvalidRequest(f"the {name} parameter must be true or false")
    return value == "true"


def _with_query(endpoint: str, pairs: Sequence[tuple[str, str]]) -> str:
    parts = urlsplit(endpoint)
    query = "&".join(q for q in (parts.query, urlencode(pairs)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


# ---------------------------------------------------------------------------- fetch (8.1)


def fetch_request_url(endpoint: str, sub: str) -> str:
    """A fetch request (section 8.1.1): GET with ``sub`` added to the endpoint's query."""
    return _with_query(endpoint, [("sub", sub)])


def parse_fetch_request(params: Params, *, issuer: str) -> str:
    """The ``sub`` a fetch request asks about; section 8.1.2 refuses the issuer itself."""
    sub = _entity_id(params, "sub")
    if sub == issuer:
        raise InvalidRequest("the fetch endpoint issues no subordinate statement about its own entity")
    return sub


# ---------------------------------------------------------------------------- listing (8.2)

LIST_FILTERS = ("entity_type", "trust_marked", "trust_mark_type", "intermediate")


@dataclass(frozen=True)
class ListRequest:
    entity_types: tuple[str, ...] = ()
    trust_marked: bool | None = None
    trust_mark_type: str | None = None
    intermediate: bool | None = None


def parse_list_request(params: Params, *, supported: Collection[str] = LIST_FILTERS) -> ListRequest:
    """A subordinate listing request (section 8.2.1).

    A filter the responder does not implement must be refused with ``unsupported_parameter``
    rather than ignored, since ignoring it would list entities the caller asked to exclude.
    """
    for name in LIST_FILTERS:
        if name not in supported and _values(params, name):
            raise UnsupportedParameter(f"this listing endpoint does not support the {name} parameter")
    return ListRequest(
        entity_types=tuple(v for v in _values(params, "entity_type") if v),
        trust_marked=_boolean(params, "trust_marked"),
        trust_mark_type=_single(params, "trust_mark_type", required=False),
        intermediate=_boolean(params, "intermediate"),
    )


def list_request_url(endpoint: str, request: ListRequest = ListRequest()) -> str:
    pairs = [("entity_type", t) for t in request.entity_types]
    if request.trust_marked is not None:
        pairs.append(("trust_marked", "true" if request.trust_marked else "false"))
    if request.trust_mark_type is not None:
        pairs.append(("trust_mark_type", request.trust_mark_type))
    if request.intermediate is not None:
        pairs.append(("intermediate", "true" if request.intermediate else "false"))
    return _with_query(endpoint, pairs)


def list_response_body(entity_ids: Iterable[str]) -> str:
    """The listing response (section 8.2.2): a JSON array of Entity Identifiers."""
    return json.dumps(list(entity_ids))


def parse_list_response(body: str | bytes) -> list[str]:
    try:
        value = json.loads(body)
    except ValueError:
        raise InvalidRequest("the listing response is not JSON") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest("the listing response is not an array of Entity Identifiers")
    return value


# ---------------------------------------------------------------------------- resolve (8.3)


@dataclass(frozen=True)
class ResolveRequest:
    sub: str
    trust_anchors: tuple[str, ...]
    entity_types: tuple[str, ...] = ()


def parse_resolve_request(params: Params) -> ResolveRequest:
    """A resolve request (section 8.3.1): ``sub``, one or more ``trust_anchor``, ``entity_type``s."""
    sub = _entity_id(params, "sub")
    anchors = tuple(a for a in _values(params, "trust_anchor") if a)
    if not anchors:
        raise InvalidRequest("the required parameter trust_anchor is missing")
    if not all(is_entity_identifier(a) for a in anchors):
        raise InvalidRequest("a trust_anchor parameter is not an Entity Identifier")
    return ResolveRequest(sub, anchors, tuple(t for t in _values(params, "entity_type") if t))


def resolve_request_url(endpoint: str, request: ResolveRequest) -> str:
    pairs = [("sub", request.sub)] + [("trust_anchor", a) for a in request.trust_anchors]
    pairs += [("entity_type", t) for t in request.entity_types]
    return _with_query(endpoint, pairs)


def build_resolve_response(
    *,
    issuer: str,
    chain: TrustChain,
    key: SigningKey,
    now: int,
    trust_marks: Iterable[TrustMark] = (),
    entity_types: Collection[str] = (),
    aud: str | None = None,
    alg: str | None = None,
) -> str:
    """A signed resolve response (section 8.3.2).

    ``trust_marks`` must be the verified ones only. ``exp`` is the minimum of the chain's and
    the trust marks' expiry, as the specification requires.
    """
    marks = list(trust_marks)
    exp = min([chain.exp, *(m.exp for m in marks if m.exp is not None)])
    metadata = {t: v for t, v in chain.metadata.items() if not entity_types or t in entity_types}
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": chain.subject,
        "iat": int(now),
        "exp": exp,
        "metadata": metadata,
        "trust_chain": chain.tokens,
    }
    if marks:
        claims["trust_marks"] = [m.as_entry() for m in marks]
    if aud is not None:
        claims["aud"] = aud
    return jose.sign(claims, key=key, typ=RESOLVE_RESPONSE_TYP, alg=alg)


@dataclass(frozen=True)
class ResolveResponse:
    iss: str
    sub: str
    iat: int
    exp: int
    metadata: Mapping[str, Mapping[str, Any]]
    trust_chain: list[str]
    trust_marks: list[Mapping[str, str]]
    claims: Mapping[str, Any]


def parse_resolve_response(
    token: str | bytes,
    *,
    issuer_jwks: Mapping[str, Any],
    now: int,
    leeway: int = 60,
    issuer: str | None = None,
    algorithms: Collection[str] = jose.DEFAULT_ALGORITHMS,
) -> ResolveResponse:
    """Verify a resolve response with the resolver's keys and read it."""
    err = errors.InvalidTrustChain
    _header, claims = jose.read_unverified(token, typ=RESOLVE_RESPONSE_TYP, error=err)
    jose.verify_signature(token, issuer_jwks, algorithms=algorithms, error=err, signer="the resolver")
    for name in ("iss", "sub"):
        if not is_entity_identifier(claims.get(name)):
            raise err(f"the resolve response has no valid {name} claim")
    if issuer is not None and claims["iss"] != issuer:
        raise err(f"the resolve response is by {claims['iss']}, not by {issuer}")
    for name in ("iat", "exp"):
        if isinstance(claims.get(name), bool) or not isinstance(claims.get(name), int | float):
            raise err(f"the resolve response has no numeric {name} claim")
    if claims["iat"] > now + leeway or claims["exp"] <= now - leeway:
        raise err("the resolve response is not currently valid")
    if not isinstance(claims.get("metadata"), Mapping):
        raise err("the resolve response has no metadata object")
    chain = claims.get("trust_chain")
    if not isinstance(chain, list) or not chain or not all(isinstance(s, str) for s in chain):
        raise err("the resolve response has no trust_chain array")
    marks = claims.get("trust_marks", [])
    if not isinstance(marks, list) or not all(isinstance(m, Mapping) for m in marks):
        raise err("the resolve response has a malformed trust_marks claim")
    return ResolveResponse(
        str(claims["iss"]),
        str(claims["sub"]),
        int(claims["iat"]),
        int(claims["exp"]),
        claims["metadata"],
        list(chain),
        list(marks),
        claims,
    )


# ---------------------------------------------------------------------------- trust mark status (8.4)


def trust_mark_status_request_body(trust_mark: str) -> dict[str, str]:
    """The form body of a trust mark status request (section 8.4.1, POST)."""
    return {"trust_mark": trust_mark}


def parse_trust_mark_status_request(params: Params) -> str:
    return _required(params, "trust_mark")


def build_trust_mark_status_response(
    *, issuer: str, trust_mark: str, status: str, key: SigningKey, now: int, alg: str | None = None
) -> str:
    """A signed trust mark status response (section 8.4.2).

    ``status`` is one of ``TRUST_MARK_STATUSES`` or an extension value the spec allows.
    """
    if not isinstance(status, str) or not status:
        raise ValueError("a trust mark status is a non-empty string")
    claims = {"iss": issuer, "iat": int(now), "trust_mark": trust_mark, "status": status}
    return jose.sign(claims, key=key, typ=TRUST_MARK_STATUS_RESPONSE_TYP, alg=alg)


def parse_trust_mark_status_response(
    token: str | bytes,
    *,
    issuer: str,
    issuer_jwks: Mapping[str, Any],
    trust_mark: str,
    now: int,
    leeway: int = 60,
    algorithms: Collection[str] = jose.DEFAULT_ALGORITHMS,
) -> str:
    """The status a trust mark issuer gives (``active``, ``expired``, ``revoked``, ``invalid`` or
    an extension value), after checking the response is signed by that issuer and is about
    the trust mark that was asked about."""
    err = errors.InvalidTrustMark
    _header, claims = jose.read_unverified(token, typ=TRUST_MARK_STATUS_RESPONSE_TYP, error=err)
    jose.verify_signature(
        token, issuer_jwks, algorithms=algorithms, error=err, signer=f"the trust mark issuer {issuer}"
    )
    if claims.get("iss") != issuer:
        raise err(f"the trust mark status response is not by {issuer}")
    if claims.get("trust_mark") != trust_mark:
        raise err("the trust mark status response is about another trust mark")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float) or iat > now + leeway:
        raise err("the trust mark status response has no valid iat claim")
    status = claims.get("status")
    if not isinstance(status, str) or not status:
        raise err("the trust mark status response has no status")
    return status


# ---------------------------------------------------------------------------- errors (8.9)

_ERRORS: dict[str, type[FederationError]] = {
    cls.error: cls
    for cls in (
        errors.InvalidRequest,
        errors.InvalidClient,
        errors.InvalidIssuer,
        errors.InvalidSubject,
        errors.InvalidTrustAnchor,
        errors.InvalidTrustChain,
        errors.InvalidMetadata,
        errors.NotFound,
        errors.ServerError,
        errors.TemporarilyUnavailable,
        errors.UnsupportedParameter,
    )
}


def error_response(error: FederationError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and ``application/json`` body of a federation error (section 8.9)."""
    return error.status_code, error.to_dict()


def parse_error_response(body: str | bytes) -> FederationError:
    """The typed error another federation endpoint answered with (unknown codes: ``ServerError``)."""
    try:
        value = json.loads(body)
    except ValueError:
        return errors.ServerError("the federation endpoint answered with an error that is not JSON")
    if not isinstance(value, Mapping) or not isinstance(value.get("error"), str):
        return errors.ServerError("the federation endpoint answered with a malformed error")
    description = value.get("error_description")
    text = description if isinstance(description, str) and description else value["error"]
    return _ERRORS.get(value["error"], errors.ServerError)(text)
