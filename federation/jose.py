"""Signing and verifying the explicitly typed JWTs of OpenID Federation with joserfc.

Every federation JWT (entity statements, trust marks, delegations, resolve and status
responses) is a JWS whose ``typ`` names its kind and whose ``kid`` names the signing key;
these helpers hold those rules in one place so each kind of statement only says its type.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from federation.errors import FederationError, InvalidTrustChain

SigningKey = RSAKey | ECKey | OKPKey

# Asymmetric algorithms only: every federation signature is checked with a public key
# from a JWK Set, so an HMAC ("HS256") or "none" can never be accepted (section 3.2).
DEFAULT_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "Ed25519",
    "Ed448",
    "EdDSA",
)

_EC_CURVE_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


def default_algorithm(key: SigningKey) -> str:
    """The algorithm a key signs with unless its ``alg`` parameter says otherwise."""
    alg = key.get("alg")
    if isinstance(alg, str):
        return alg
    if isinstance(key, RSAKey):
        return "RS256"
    if isinstance(key, ECKey):
        return _EC_CURVE_ALGORITHMS[str(key.get("crv"))]
    # RFC 9864 names the curve in the algorithm and deprecates "EdDSA" for new signatures.
    return "Ed448" if key.get("crv") == "Ed448" else "Ed25519"


def public_jwks(*keys: SigningKey) -> dict[str, Any]:
    """The public JWK Set for ``keys``: the value of a statement's ``jwks`` claim."""
    out = []
    for key in keys:
        key.ensure_kid()
        out.append(key.as_dict(private=False))
    return {"keys": out}


def sign(
    claims: Mapping[str, Any],
    *,
    key: SigningKey,
    typ: str,
    alg: str | None = None,
    extra_headers: Mapping[str, Any] | None = None,
) -> str:
    """A compact JWS of ``claims`` with ``typ`` and the key's ``kid`` in its header."""
    key.ensure_kid()
    algorithm = alg or default_algorithm(key)
    header: dict[str, Any] = {**(extra_headers or {}), "alg": algorithm, "typ": typ, "kid": key.kid}
    payload = json.dumps(dict(claims), separators=(",", ":"), ensure_ascii=False)
    return jws.serialize_compact(header, payload, key, algorithms=[algorithm])


@dataclass(frozen=True)
class SignedClaims:
    """A parsed signed JWT of the federation (an entity statement, a trust mark): its
    compact form, its JOSE header and its claims, with the claims every kind carries."""

    token: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def iss(self) -> str:
        return str(self.claims["iss"])

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])

    @property
    def iat(self) -> int:
        return int(self.claims["iat"])


class _DuplicateMember(Exception):
    pass


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Section 6.1.2 forbids duplicate names in metadata_policy, and RFC 7519 section 4 lets a
    # JWT parser reject them; two readings of one statement must never disagree.
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise _DuplicateMember(name)
        out[name] = value
    return out


def read_unverified(
    token: str | bytes, *, typ: str, error: type[FederationError] = InvalidTrustChain
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWS before its signature is checked.

    Enforces what does not need the key: a compact JWS, an explicit ``typ`` (section 3,
    RFC 8725 section 3.11), a non-empty ``kid`` and an ``alg`` that is not ``none``.
    """
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise error("the statement is not a compact JWS") from None
    token = token.strip()
    if token.count(".") != 2:
        raise error("the statement is not a compact JWS")
    try:
        obj = jws.extract_compact(token.encode("ascii"))
        header = dict(obj.headers())
        claims = json.loads(obj.payload, object_pairs_hook=_unique_members)
    except _DuplicateMember as exc:
        raise error(f"the JWT repeats the member name {exc.args[0]!r}") from None
    except (JoseError, ValueError, UnicodeError):
        raise error("the statement is not a well-formed signed JWT") from None
    if not isinstance(claims, dict):
        raise error("the statement's payload is not a JSON object")
    if header.get("typ") != typ:
        raise error(f"the JWT's typ header must be {typ!r}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg == "none":
        raise error("the JWT's alg header is missing or 'none'")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise error("the JWT has no kid header")
    return header, claims


def verify_signature(
    token: str | bytes,
    jwks: Mapping[str, Any] | None,
    *,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    error: type[FederationError] = InvalidTrustChain,
    signer: str = "the issuer",
) -> None:
    """Check the JWS signature with the key whose ``kid`` exactly matches the header's.

    Section 3.2: the ``kid`` must exactly match a key of the issuer's JWK Set and the
    signature must validate with that key; trying other keys is not allowed.
    """
    if isinstance(token, bytes):
        token = token.decode("ascii", "replace")
    token = token.strip()
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError):
        raise error("the statement is not a well-formed signed JWT") from None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in algorithms:
        raise error(f"the signing algorithm {alg!r} is not accepted")
    key = find_key(jwks, kid, error=error, signer=signer)
    try:
        jws.deserialize_compact(token, key, algorithms=[str(alg)])
    except (JoseError, ValueError):
        raise error(f"the signature does not validate with {signer}'s key {kid!r}") from None


def find_key(
    jwks: Mapping[str, Any] | None,
    kid: Any,
    *,
    error: type[FederationError] = InvalidTrustChain,
    signer: str = "the issuer",
) -> SigningKey:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise error(f"{signer} has no valid JWK Set")
    for entry in keys:
        if isinstance(entry, Mapping) and entry.get("kid") == kid:
            try:
                key = KeySet.import_key_set({"keys": [dict(entry)]}).keys[0]
            except (JoseError, ValueError, TypeError, KeyError):
                raise error(f"{signer}'s key {kid!r} is not a valid JWK") from None
            if not isinstance(key, RSAKey | ECKey | OKPKey):
                raise error(f"{signer}'s key {kid!r} is not an asymmetric key")
            return key
    raise error(f"{signer} has no key with kid {kid!r}")


def is_jwks(value: Any) -> bool:
    """Syntactically a JWK Set whose keys all carry a unique kid (section 3.1.1)."""
    if not isinstance(value, Mapping):
        return False
    keys = value.get("keys")
    if not isinstance(keys, list):
        return False
    kids = [k.get("kid") for k in keys if isinstance(k, Mapping)]
    if len(kids) != len(keys) or not all(isinstance(k, str) and k for k in kids):
        return False
    return len(set(kids)) == len(kids)
