"""Explicit registration messages (section 12.2): the RP's request and the OP's response.

The request is the RP's entity configuration with ``aud`` set to the OP (or a trust chain
starting with it); the response is an entity statement typed
``explicit-registration-response+jwt`` that names the trust anchor the OP chose.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from federation import jose
from federation.chain import TRUST_CHAIN_MEDIA_TYPE
from federation.errors import InvalidRequest
from federation.jose import SigningKey
from federation.statements import (
    ENTITY_STATEMENT_MEDIA_TYPE,
    EXPLICIT_REGISTRATION_RESPONSE_TYP,
    EntityStatement,
    parse_entity_statement,
    sign_entity_statement,
)

RP_ENTITY_TYPE = "openid_relying_party"


@dataclass(frozen=True)
class ExplicitRegistrationRequest:
    """The RP's self-signed configuration and, when it sent one, the trust chain it chose."""

    configuration: EntityStatement
    trust_chain: list[str] | None


def parse_explicit_registration_request(
    body: str | bytes,
    *,
    content_type: str,
    op_entity_id: str,
    now: int,
    leeway: int = 60,
    algorithms: Collection[str] = jose.DEFAULT_ALGORITHMS,
    understood_claims: Collection[str] = (),
) -> ExplicitRegistrationRequest:
    """Read and check an explicit registration request (sections 12.2.1 and 12.2.2).

    The configuration must be self-signed, current, addressed to this OP alone (``aud``),
    carry ``authority_hints`` and RP metadata. Resolving its trust chain is the caller's next
    step (``TrustChainResolver.resolve(..., entity_configuration=...)``).
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    chain: list[str] | None = None
    if media_type == TRUST_CHAIN_MEDIA_TYPE:
        try:
            chain = json.loads(body)
        except ValueError:
            raise InvalidRequest("the registration request is not a JSON trust chain") from None
        if not isinstance(chain, list) or not chain or not all(isinstance(s, str) for s in chain):
            raise InvalidRequest("the registration request is not an array of entity statements")
        token: str | bytes = chain[0]
    elif media_type == ENTITY_STATEMENT_MEDIA_TYPE:
        token = body
    else:
        raise InvalidRequest(
            f"a registration request is {ENTITY_STATEMENT_MEDIA_TYPE} or {TRUST_CHAIN_MEDIA_TYPE}"
        )
    statement = parse_entity_statement(token, understood_claims=understood_claims, error=InvalidRequest)
    if not statement.is_configuration:
        raise InvalidRequest("the registration request is not the RP's entity configuration")
    aud = statement.claims.get("aud")
    if aud != op_entity_id and aud != [op_entity_id]:  # section 3.1.4: the OP and no one else
        raise InvalidRequest("the registration request's aud must be this OP's Entity Identifier alone")
    if not statement.authority_hints:
        raise InvalidRequest("the registration request names no authority_hints")
    if not isinstance(statement.metadata.get(RP_ENTITY_TYPE), Mapping):
        raise InvalidRequest("the registration request carries no openid_relying_party metadata")
    statement.check_time(now, leeway=leeway, error=InvalidRequest)
    verified = statement.verify(
        statement.jwks, algorithms=algorithms, signer=f"{statement.sub} (self-signed)", error=InvalidRequest
    )
    return ExplicitRegistrationRequest(verified, chain)


def build_explicit_registration_response(
    *,
    op_entity_id: str,
    rp_configuration: EntityStatement,
    trust_anchor_id: str,
    authority_hint: str,
    rp_metadata: Mapping[str, Any],
    key: SigningKey,
    now: int,
    exp: int,
    alg: str | None = None,
) -> str:
    """The OP's signed registration response (section 12.2.3).

    ``exp`` is the registration's expiry and must not exceed the chosen trust chain's;
    ``rp_metadata`` is the registered metadata including the ``client_id``.
    """
    if "client_id" not in rp_metadata:
        raise ValueError("the registered metadata must include the client_id")
    claims: dict[str, Any] = {
        "iss": op_entity_id,
        "sub": rp_configuration.sub,
        "aud": rp_configuration.sub,
        "iat": int(now),
        "exp": int(exp),
        "jwks": dict(rp_configuration.jwks),
        "trust_anchor": trust_anchor_id,
        "authority_hints": [authority_hint],
        "metadata": {RP_ENTITY_TYPE: dict(rp_metadata)},
    }
    return sign_entity_statement(claims, key=key, alg=alg, typ=EXPLICIT_REGISTRATION_RESPONSE_TYP)
