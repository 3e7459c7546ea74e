"""ID token validation, OIDC Core §3.1.3.7, with joserfc (signature) and Authlib's
``CodeIDToken`` (claims). Each numbered step of §3.1.3.7 is marked where it is enforced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from connectors.errors import InvalidUpstreamData
from connectors.oidc.config import OidcConfig

_MAX_TOKEN = 16 * 1024


def validate_id_token(
    id_token: Any,
    *,
    config: OidcConfig,
    issuer: str,
    algs: tuple[str, ...],
    keys: Callable[[bool], KeySet],
    nonce: str,
    access_token: str,
    now: float,
    network: str,
) -> dict[str, Any]:
    """Return the validated claims or raise :class:`InvalidUpstreamData`."""

    def fail(detail: str) -> InvalidUpstreamData:
        return InvalidUpstreamData("The sign-in at the partner network could not be verified.",
                                   reason="invalid_id_token", detail=detail, network=network)

    # (1) Encrypted ID tokens (JWE, 5 parts) are not requested, so not accepted.
    if not isinstance(id_token, str) or len(id_token) > _MAX_TOKEN or id_token.count(".") != 2:
        raise fail("not a compact JWS")
    # (6)-(8) signature with a JWKS key, alg from the asymmetric allow-list only.
    try:
        try:
            token = jwt.decode(id_token, keys(False), algorithms=list(algs))
        except InvalidKeyIdError:
            token = jwt.decode(id_token, keys(True), algorithms=list(algs))  # key rotation
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise fail(f"signature: {type(exc).__name__}: {str(exc)[:120]}") from None
    if token.header.get("alg") not in algs:  # belt and braces over joserfc's own check
        raise fail("alg not allowed")
    claims = token.claims
    # (3)(4)(5) aud must contain client_id, nothing untrusted; azp when several audiences.
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud
    if not isinstance(auds, list) or config.client_id not in auds:
        raise fail("aud does not contain client_id")
    untrusted = [a for a in auds if a != config.client_id and a not in config.trusted_audiences]
    if untrusted:
        raise fail("aud contains an untrusted audience")
    # (2) iss exact match, (9) exp, (10) iat, (11) nonce; azp and at_hash (§3.1.3.8) by Authlib.
    checker = CodeIDToken(
        claims,
        token.header,
        options={
            "iss": {"essential": True, "value": issuer},
            "sub": {"essential": True},
            "aud": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        },
        params={"nonce": nonce, "client_id": config.client_id, "access_token": access_token},
    )
    try:
        checker.validate(now=int(now), leeway=config.leeway)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise fail(f"claims: {type(exc).__name__}: {str(exc)[:120]}") from None
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or now - iat > config.max_id_token_age + config.leeway:
        raise fail("iat too old")  # (10): reject tokens issued too far in the past
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255 or not sub.isprintable():
        raise fail("sub")  # OIDC Core §2: at most 255 ASCII characters
    return dict(claims)
