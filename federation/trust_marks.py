"""Trust marks and their delegation (section 7): issuing and validating.

A trust mark is only as good as its issuer: the trust anchor's configuration says which
issuers it accepts for each trust mark type (``trust_mark_issuers``) and which types are
owned by someone who delegates issuing (``trust_mark_owners``). The caller establishes trust
in the issuer first (its keys come from the issuer's own trust chain to the same anchor).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from federation import jose
from federation.errors import InvalidTrustMark
from federation.jose import SignedClaims, SigningKey
from federation.statements import EntityStatement, is_entity_identifier

TRUST_MARK_TYP = "trust-mark+jwt"
TRUST_MARK_MEDIA_TYPE = "application/trust-mark+jwt"
TRUST_MARK_DELEGATION_TYP = "trust-mark-delegation+jwt"


@dataclass(frozen=True)
class TrustMark(SignedClaims):
    @property
    def trust_mark_type(self) -> str:
        return str(self.claims["trust_mark_type"])

    @property
    def exp(self) -> int | None:
        exp = self.claims.get("exp")
        return None if exp is None else int(exp)

    @property
    def delegation(self) -> str | None:
        value = self.claims.get("delegation")
        return value if isinstance(value, str) else None

    def as_entry(self) -> dict[str, str]:
        """The object placed in an entity configuration's ``trust_marks`` array (section 3.1.2)."""
        return {"trust_mark_type": self.trust_mark_type, "trust_mark": self.token}


def build_trust_mark(
    *,
    issuer: str,
    subject: str,
    trust_mark_type: str,
    key: SigningKey,
    now: int,
    lifetime: int | None = None,
    delegation: str | None = None,
    logo_uri: str | None = None,
    ref: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
    alg: str | None = None,
) -> str:
    """A signed trust mark (section 7.1); without ``lifetime`` it does not expire."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "trust_mark_type": trust_mark_type,
        "iat": int(now),
    }
    if lifetime is not None:
        claims["exp"] = int(now) + int(lifetime)
    for name, value in (("delegation", delegation), ("logo_uri", logo_uri), ("ref", ref)):
        if value is not None:
            claims[name] = value
    claims.update(extra_claims or {})
    return jose.sign(claims, key=key, typ=TRUST_MARK_TYP, alg=alg)


def build_trust_mark_delegation(
    *,
    owner: str,
    issuer: str,
    trust_mark_type: str,
    key: SigningKey,
    now: int,
    lifetime: int | None = None,
    ref: str | None = None,
    alg: str | None = None,
) -> str:
    """A trust mark delegation JWT by the owner of a trust mark type to an issuer (section 7.2.1)."""
    claims: dict[str, Any] = {
        "iss": owner,
        "sub": issuer,
        "trust_mark_type": trust_mark_type,
        "iat": int(now),
    }
    if lifetime is not None:
        claims["exp"] = int(now) + int(lifetime)
    if ref is not None:
        claims["ref"] = ref
    return jose.sign(claims, key=key, typ=TRUST_MARK_DELEGATION_TYP, alg=alg)


def parse_trust_mark(token: str | bytes) -> TrustMark:
    """A trust mark's claims after the key-free checks: typ, alg, kid and required claims."""
    header, claims = jose.read_unverified(token, typ=TRUST_MARK_TYP, error=InvalidTrustMark)
    _check_common(claims, "trust mark")
    text = token.decode("ascii") if isinstance(token, bytes) else token
    return TrustMark(text.strip(), header, claims)


def _check_common(claims: Mapping[str, Any], what: str) -> None:
    for name in ("iss", "sub"):
        if not is_entity_identifier(claims.get(name)):
            raise InvalidTrustMark(f"the {what} has no valid {name} claim")
    if not isinstance(claims.get("trust_mark_type"), str) or not claims["trust_mark_type"]:
        raise InvalidTrustMark(f"the {what} has no trust_mark_type claim")
    for name in ("iat", "exp"):
        value = claims.get(name)
        if (name == "iat" or value is not None) and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise InvalidTrustMark(f"the {what} has a missing or non-numeric {name} claim")


def _check_time(claims: Mapping[str, Any], now: int, leeway: int, what: str) -> None:
    if claims["iat"] > now + leeway:
        raise InvalidTrustMark(f"the {what} is issued in the future")
    if claims.get("exp") is not None and claims["exp"] <= now - leeway:
        raise InvalidTrustMark(f"the {what} has expired", status="expired")


def verify_trust_mark(
    token: str | bytes,
    *,
    entity_id: str,
    issuer_jwks: Mapping[str, Any],
    anchor_configuration: EntityStatement,
    now: int,
    leeway: int = 60,
    algorithms: Collection[str] = jose.DEFAULT_ALGORITHMS,
) -> TrustMark:
    """Validate a trust mark shown by ``entity_id`` (section 7.3).

    ``issuer_jwks`` are the issuer's federation entity keys, taken from the issuer's
    validated trust chain to the same anchor whose ``anchor_configuration`` is given.
    Raises ``InvalidTrustMark`` whose ``status`` is ``expired`` or ``invalid``.
    """
    mark = parse_trust_mark(token)
    tm_type = mark.trust_mark_type
    if mark.sub != entity_id:
        raise InvalidTrustMark(f"the trust mark {tm_type} was issued to {mark.sub}, not to {entity_id}")
    _check_time(mark.claims, now, leeway, f"trust mark {tm_type}")
    check_issuer_recognised(mark, anchor_configuration)
    jose.verify_signature(
        mark.token,
        issuer_jwks,
        algorithms=algorithms,
        error=InvalidTrustMark,
        signer=f"the trust mark issuer {mark.iss}",
    )
    owners = anchor_configuration.trust_mark_owners
    if tm_type in owners and mark.delegation is None:
        raise InvalidTrustMark(
            f"the trust mark {tm_type} is owned by {owners[tm_type].get('sub')} and carries no delegation"
        )
    if mark.delegation is not None:
        _verify_delegation(mark, owners.get(tm_type), now=now, leeway=leeway, algorithms=algorithms)
    return mark


def check_issuer_recognised(mark: TrustMark, anchor_configuration: EntityStatement) -> None:
    """Section 7: the anchor's ``trust_mark_issuers`` says who may issue each type; an empty
    array means anyone may. A type the anchor does not list is not recognised at all."""
    tm_type = mark.trust_mark_type
    issuers = anchor_configuration.trust_mark_issuers
    if tm_type not in issuers:
        raise InvalidTrustMark(
            f"the trust anchor {anchor_configuration.sub} does not recognise the trust mark type {tm_type}"
        )
    if issuers[tm_type] and mark.iss not in issuers[tm_type]:
        raise InvalidTrustMark(
            f"the trust anchor {anchor_configuration.sub} does not accept {mark.iss} "
            f"as an issuer of {tm_type}"
        )


def _verify_delegation(
    mark: TrustMark, owner: Mapping[str, Any] | None, *, now: int, leeway: int, algorithms: Collection[str]
) -> None:
    """Section 7.2.2, with the owner's keys from the anchor's ``trust_mark_owners``."""
    what = f"delegation of trust mark {mark.trust_mark_type}"
    if owner is None:
        raise InvalidTrustMark(
            f"the trust anchor names no owner for {mark.trust_mark_type}, so its "
            "delegation cannot be validated"
        )
    _header, claims = jose.read_unverified(
        str(mark.delegation), typ=TRUST_MARK_DELEGATION_TYP, error=InvalidTrustMark
    )
    _check_common(claims, what)
    if claims["sub"] != mark.iss:
        raise InvalidTrustMark(f"the {what} is for {claims['sub']}, not for the issuer {mark.iss}")
    if claims["iss"] != owner.get("sub"):
        raise InvalidTrustMark(f"the {what} is not by the owner {owner.get('sub')}")
    if claims["trust_mark_type"] != mark.trust_mark_type:
        raise InvalidTrustMark(f"the {what} is for another trust mark type")
    _check_time(claims, now, leeway, what)
    jose.verify_signature(
        str(mark.delegation),
        owner.get("jwks"),
        algorithms=algorithms,
        error=InvalidTrustMark,
        signer=f"the trust mark owner {owner.get('sub')}",
    )
