"""Entity statements: entity configurations and subordinate statements (sections 3 and 9).

An entity statement is a JWS typed ``entity-statement+jwt``. ``parse_entity_statement``
applies every check of section 3.2 that needs no key (claims, their syntax and where each
may appear, ``crit``); ``EntityStatement.verify`` then checks the signature with the
issuer's JWK Set and ``check_time`` the validity window. Chain building keeps these steps
apart because the issuer's keys are only known once the superior's statement is in hand.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from federation import jose
from federation.constraints import check_constraints_syntax
from federation.errors import FederationError, InvalidTrustChain
from federation.jose import SignedClaims, SigningKey

ENTITY_STATEMENT_TYP = "entity-statement+jwt"
ENTITY_STATEMENT_MEDIA_TYPE = "application/entity-statement+jwt"
EXPLICIT_REGISTRATION_RESPONSE_TYP = "explicit-registration-response+jwt"
EXPLICIT_REGISTRATION_RESPONSE_MEDIA_TYPE = "application/explicit-registration-response+jwt"
WELL_KNOWN_PATH = "/.well-known/openid-federation"
FEDERATION_ENTITY = "federation_entity"

# Claims this specification defines for entity statements (section 3.1); section 13.4
# forbids listing them in ``crit``.
SPEC_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "iat",
        "exp",
        "jwks",
        "metadata",
        "crit",
        "authority_hints",
        "trust_anchor_hints",
        "trust_marks",
        "trust_mark_issuers",
        "trust_mark_owners",
        "constraints",
        "metadata_policy",
        "metadata_policy_crit",
        "source_endpoint",
        "aud",
        "trust_anchor",
    }
)
_CONFIGURATION_ONLY = (
    "authority_hints",
    "trust_anchor_hints",
    "trust_marks",
    "trust_mark_issuers",
    "trust_mark_owners",
)
_SUBORDINATE_ONLY = ("metadata_policy", "metadata_policy_crit", "constraints", "source_endpoint")


def is_entity_identifier(value: Any) -> bool:
    """An Entity Identifier: an http(s) URL with a host and no query or fragment (section 1.2).

    http is accepted here so local demos can run; whether plain http is trusted is the
    resolver's decision (``TrustChainResolver(allow_http_loopback=...)``).
    """
    if not isinstance(value, str) or not value:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return (
        parts.scheme in ("https", "http")
        and bool(parts.hostname)
        and not parts.query
        and not parts.fragment
        and "#" not in value
    )


def entity_configuration_url(entity_id: str) -> str:
    """Where an entity publishes its configuration (section 9): trailing ``/`` removed."""
    return entity_id.rstrip("/") + WELL_KNOWN_PATH


@dataclass(frozen=True)
class EntityStatement(SignedClaims):
    """A parsed (and, once ``verify`` passed, trusted) entity statement."""

    verified: bool = field(default=False, compare=False)

    @property
    def exp(self) -> int:
        return int(self.claims["exp"])

    @property
    def kid(self) -> str:
        return str(self.header["kid"])

    @property
    def jwks(self) -> Mapping[str, Any]:
        return self.claims.get("jwks") or {"keys": []}

    @property
    def is_configuration(self) -> bool:
        """True for an entity configuration (iss == sub), false for a subordinate statement."""
        return bool(self.claims["iss"] == self.claims["sub"])

    @property
    def metadata(self) -> Mapping[str, Mapping[str, Any]]:
        return self.claims.get("metadata") or {}

    @property
    def authority_hints(self) -> list[str]:
        return list(self.claims.get("authority_hints") or [])

    @property
    def metadata_policy(self) -> Mapping[str, Any] | None:
        return self.claims.get("metadata_policy")

    @property
    def metadata_policy_crit(self) -> list[str]:
        return list(self.claims.get("metadata_policy_crit") or [])

    @property
    def constraints(self) -> Mapping[str, Any]:
        return self.claims.get("constraints") or {}

    @property
    def trust_marks(self) -> list[Mapping[str, Any]]:
        return list(self.claims.get("trust_marks") or [])

    @property
    def trust_mark_issuers(self) -> Mapping[str, list[str]]:
        return self.claims.get("trust_mark_issuers") or {}

    @property
    def trust_mark_owners(self) -> Mapping[str, Mapping[str, Any]]:
        return self.claims.get("trust_mark_owners") or {}

    @property
    def source_endpoint(self) -> str | None:
        return self.claims.get("source_endpoint")

    def federation_endpoint(self, name: str) -> str | None:
        """A ``federation_entity`` endpoint (e.g. ``federation_fetch_endpoint``), if published."""
        value = self.metadata.get(FEDERATION_ENTITY, {}).get(name)
        return value if isinstance(value, str) else None

    def verify(
        self,
        jwks: Mapping[str, Any] | None,
        *,
        algorithms: Collection[str] = jose.DEFAULT_ALGORITHMS,
        signer: str | None = None,
        error: type[FederationError] = InvalidTrustChain,
    ) -> EntityStatement:
        """This statement, marked verified, once its signature validates with ``jwks``."""
        jose.verify_signature(self.token, jwks, algorithms=algorithms, error=error, signer=signer or self.iss)
        return EntityStatement(self.token, self.header, self.claims, verified=True)

    def check_time(
        self, now: int, *, leeway: int = 60, error: type[FederationError] = InvalidTrustChain
    ) -> None:
        """Section 3.2: ``iat`` must be in the past and ``exp`` in the future (with leeway)."""
        if self.iat > now + leeway:
            raise error(f"the statement by {self.iss} about {self.sub} is issued in the future")
        if self.exp <= now - leeway:
            raise error(f"the statement by {self.iss} about {self.sub} has expired")


def parse_entity_statement(
    token: str | bytes,
    *,
    typ: str = ENTITY_STATEMENT_TYP,
    understood_claims: Collection[str] = (),
    error: type[FederationError] = InvalidTrustChain,
) -> EntityStatement:
    """Parse an entity statement and apply the key-free checks of section 3.2.

    ``understood_claims`` names extension claims the caller processes; a statement whose
    ``crit`` lists any other claim is rejected (section 13.4).
    """
    header, claims = jose.read_unverified(token, typ=typ, error=error)
    text = token.decode("ascii") if isinstance(token, bytes) else token
    _check_claims(
        claims, understood_claims=understood_claims, error=error, jwks_required=typ == ENTITY_STATEMENT_TYP
    )
    return EntityStatement(text.strip(), header, claims)


def _check_claims(
    claims: Mapping[str, Any],
    *,
    understood_claims: Collection[str],
    error: type[FederationError],
    jwks_required: bool,
) -> None:
    for name in ("iss", "sub"):
        if not is_entity_identifier(claims.get(name)):
            raise error(f"the statement's {name} claim is missing or not an Entity Identifier")
    about = f"the statement by {claims['iss']} about {claims['sub']}"
    for name in ("iat", "exp"):
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise error(f"{about} has no numeric {name} claim")
    if "jwks" in claims or jwks_required:
        if not jose.is_jwks(claims.get("jwks")):
            raise error(f"{about} has no valid jwks claim (a JWK Set whose keys have unique kids)")
    configuration = claims["iss"] == claims["sub"]
    for name in _CONFIGURATION_ONLY if not configuration else _SUBORDINATE_ONLY:
        if name in claims:
            kind = "an entity configuration" if configuration else "a subordinate statement"
            raise error(f"{about} carries {name}, which {kind} must not")
    _check_crit(claims, understood_claims, about, error)
    if "metadata" in claims:
        _check_metadata(claims["metadata"], about, error)
    if "authority_hints" in claims:
        _check_entity_id_list(claims["authority_hints"], "authority_hints", about, error)
    if "trust_anchor_hints" in claims:
        _check_entity_id_list(claims["trust_anchor_hints"], "trust_anchor_hints", about, error)
    if "trust_marks" in claims:
        _check_trust_marks_claim(claims["trust_marks"], about, error)
    if "trust_mark_issuers" in claims:
        value = claims["trust_mark_issuers"]
        if not isinstance(value, Mapping) or not all(
            isinstance(v, list) and all(is_entity_identifier(i) for i in v) for v in value.values()
        ):
            raise error(f"{about} has a malformed trust_mark_issuers claim")
    if "trust_mark_owners" in claims:
        value = claims["trust_mark_owners"]
        if not isinstance(value, Mapping) or not all(
            isinstance(v, Mapping) and is_entity_identifier(v.get("sub")) and jose.is_jwks(v.get("jwks"))
            for v in value.values()
        ):
            raise error(f"{about} has a malformed trust_mark_owners claim")
    if "metadata_policy" in claims and not isinstance(claims["metadata_policy"], Mapping):
        raise error(f"{about} has a metadata_policy claim that is not a JSON object")
    if "metadata_policy_crit" in claims:
        value = claims["metadata_policy_crit"]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise error(f"{about} has a metadata_policy_crit claim that is not a non-empty string array")
    if "constraints" in claims:
        check_constraints_syntax(claims["constraints"], about, error)
    if "source_endpoint" in claims:
        value = claims["source_endpoint"]
        if not isinstance(value, str) or urlsplit(value).scheme not in ("https", "http"):
            raise error(f"{about} has a source_endpoint that is not a URL")


def _check_crit(
    claims: Mapping[str, Any], understood: Collection[str], about: str, error: type[FederationError]
) -> None:
    if "crit" not in claims:
        return
    crit = claims["crit"]
    if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
        raise error(f"{about} has a crit claim that is not a non-empty string array")
    # Section 13.4: spec-defined names and names absent from the JWT must not be listed,
    # and every listed extension must be understood by us.
    for name in crit:
        if name in SPEC_CLAIMS:
            raise error(f"{about} lists the standard claim {name!r} in crit")
        if name not in claims:
            raise error(f"{about} lists {name!r} in crit but does not carry it")
        if name not in understood:
            raise error(f"{about} requires the critical claim {name!r}, which is not supported")


def _check_metadata(metadata: Any, about: str, error: type[FederationError]) -> None:
    if not isinstance(metadata, Mapping):
        raise error(f"{about} has a metadata claim that is not a JSON object")
    for entity_type, params in metadata.items():
        if not isinstance(params, Mapping):
            raise error(f"{about} has {entity_type} metadata that is not a JSON object")
        for name, value in params.items():
            if value is None:  # section 3.2: null is not a metadata value
                raise error(f"{about} uses null as the value of {entity_type}.{name}")


def _check_entity_id_list(value: Any, name: str, about: str, error: type[FederationError]) -> None:
    if not isinstance(value, list) or not value or not all(is_entity_identifier(v) for v in value):
        raise error(f"{about} has a {name} claim that is not a non-empty array of Entity Identifiers")


def _check_trust_marks_claim(value: Any, about: str, error: type[FederationError]) -> None:
    if not isinstance(value, list):
        raise error(f"{about} has a trust_marks claim that is not an array")
    for entry in value:
        if not (
            isinstance(entry, Mapping)
            and isinstance(entry.get("trust_mark_type"), str)
            and isinstance(entry.get("trust_mark"), str)
        ):
            raise error(f"{about} has a trust_marks entry without trust_mark_type and trust_mark")
        try:
            _header, mark = jose.read_unverified(entry["trust_mark"], typ="trust-mark+jwt", error=error)
        except FederationError:
            raise error(f"{about} has a trust_marks entry that is not a trust mark JWT") from None
        if mark.get("trust_mark_type") != entry["trust_mark_type"]:
            raise error(f"{about} has a trust_marks entry whose trust_mark_type differs from its JWT")


def sign_entity_statement(
    claims: Mapping[str, Any],
    *,
    key: SigningKey,
    alg: str | None = None,
    typ: str = ENTITY_STATEMENT_TYP,
    extra_headers: Mapping[str, Any] | None = None,
) -> str:
    """Sign ready claims as an entity statement; refuses claims our own parser would reject."""
    crit = claims.get("crit")
    if crit is not None:
        if not crit or any(c in SPEC_CLAIMS or c not in claims for c in crit):
            raise ValueError("crit must list only extension claims present in the statement")
    return jose.sign(claims, key=key, typ=typ, alg=alg, extra_headers=extra_headers)


def build_entity_configuration(
    entity_id: str,
    *,
    key: SigningKey,
    now: int,
    lifetime: int = 86400,
    metadata: Mapping[str, Mapping[str, Any]],
    jwks: Mapping[str, Any] | None = None,
    authority_hints: Iterable[str] = (),
    trust_marks: Iterable[Mapping[str, str]] = (),
    trust_mark_issuers: Mapping[str, list[str]] | None = None,
    trust_mark_owners: Mapping[str, Mapping[str, Any]] | None = None,
    extra_claims: Mapping[str, Any] | None = None,
    alg: str | None = None,
) -> str:
    """A signed entity configuration (iss == sub, section 3.1.2).

    ``jwks`` defaults to the public part of ``key``; pass the full set during a key rollover.
    ``authority_hints`` is omitted for a trust anchor (it must not be an empty array).
    """
    claims: dict[str, Any] = {
        "iss": entity_id,
        "sub": entity_id,
        "iat": int(now),
        "exp": int(now) + int(lifetime),
        "jwks": dict(jwks) if jwks is not None else jose.public_jwks(key),
        "metadata": {k: dict(v) for k, v in metadata.items()},
    }
    hints = list(authority_hints)
    if hints:
        claims["authority_hints"] = hints
    marks = [dict(m) for m in trust_marks]
    if marks:
        claims["trust_marks"] = marks
    if trust_mark_issuers is not None:
        claims["trust_mark_issuers"] = {k: list(v) for k, v in trust_mark_issuers.items()}
    if trust_mark_owners is not None:
        claims["trust_mark_owners"] = {k: dict(v) for k, v in trust_mark_owners.items()}
    claims.update(extra_claims or {})
    return sign_entity_statement(claims, key=key, alg=alg)


def build_subordinate_statement(
    issuer: str,
    subject: str,
    *,
    key: SigningKey,
    subject_jwks: Mapping[str, Any],
    now: int,
    lifetime: int = 86400,
    metadata_policy: Mapping[str, Any] | None = None,
    metadata_policy_crit: Iterable[str] = (),
    constraints: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    source_endpoint: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
    alg: str | None = None,
) -> str:
    """A signed subordinate statement by ``issuer`` about its immediate subordinate ``subject``."""
    if issuer == subject:
        raise ValueError("a subordinate statement's issuer and subject differ")
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "iat": int(now),
        "exp": int(now) + int(lifetime),
        "jwks": dict(subject_jwks),
    }
    if metadata_policy:
        claims["metadata_policy"] = metadata_policy
    crit = list(metadata_policy_crit)
    if crit:
        claims["metadata_policy_crit"] = crit
    if constraints:
        claims["constraints"] = dict(constraints)
    if metadata:
        claims["metadata"] = {k: dict(v) for k, v in metadata.items()}
    if source_endpoint:
        claims["source_endpoint"] = source_endpoint
    claims.update(extra_claims or {})
    return sign_entity_statement(claims, key=key, alg=alg)
