"""Trust chain validation and metadata resolution (sections 4, 6 and 10.2).

A trust chain is ES[0] (the subject's entity configuration), the subordinate statements of
its superiors up to the trust anchor, and optionally the trust anchor's configuration.
``validate_trust_chain`` checks it against the trust anchors the caller configured and
returns the subject's resolved metadata; it never fetches anything.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from federation import jose
from federation.constraints import allowed_entity_types, enforce_constraints
from federation.errors import InvalidTrustAnchor, InvalidTrustChain
from federation.policy import Policy, apply_policy, apply_superior_metadata, resolve_policy
from federation.statements import EntityStatement, parse_entity_statement

TRUST_CHAIN_MEDIA_TYPE = "application/trust-chain+json"


@dataclass(frozen=True)
class TrustChain:
    """A validated trust chain and what it says about its subject."""

    statements: tuple[EntityStatement, ...]
    trust_anchor_id: str
    anchor_configuration: EntityStatement | None
    exp: int
    metadata: dict[str, dict[str, Any]]
    policy: Policy | None

    @property
    def subject(self) -> str:
        return self.statements[0].sub

    @property
    def subject_configuration(self) -> EntityStatement:
        return self.statements[0]

    @property
    def tokens(self) -> list[str]:
        """The chain as the JSON array of JWTs the ``trust_chain`` parameters carry (section 4.3)."""
        return [s.token for s in self.statements]

    @property
    def immediate_superior(self) -> str | None:
        return self.statements[1].iss if len(self.statements) > 1 else None

    def metadata_for(self, entity_type: str) -> dict[str, Any] | None:
        return self.metadata.get(entity_type)


def validate_trust_chain(
    statements: Sequence[str | EntityStatement],
    *,
    trust_anchors: Mapping[str, Mapping[str, Any]],
    now: int,
    leeway: int = 60,
    algorithms: Collection[str] = jose.DEFAULT_ALGORITHMS,
    understood_claims: Collection[str] = (),
    max_chain_length: int = 6,
) -> TrustChain:
    """Validate a trust chain (section 10.2) and resolve its subject's metadata (section 6).

    ``trust_anchors`` maps each trusted anchor's Entity Identifier to its JWK Set, handed in
    out of band. The chain may end with the anchor's entity configuration or with the
    anchor's subordinate statement. Raises ``InvalidTrustChain``, ``InvalidTrustAnchor`` or
    ``PolicyError`` (``invalid_metadata``) with the reason. A chain naming more than
    ``max_chain_length`` entities is refused before any signature is checked, as chains
    may come from the other party (a ``trust_chain`` header).
    """
    if not statements:
        raise InvalidTrustChain("the trust chain is empty")
    if len(statements) > max_chain_length + 1:
        raise InvalidTrustChain(f"the trust chain is longer than {max_chain_length} entities")
    chain = [
        s
        if isinstance(s, EntityStatement)
        else parse_entity_statement(s, understood_claims=understood_claims)
        for s in statements
    ]
    subject = chain[0]
    if not subject.is_configuration:
        raise InvalidTrustChain("a trust chain must begin with its subject's entity configuration")
    last = chain[-1]
    anchor_id = last.iss
    if anchor_id not in trust_anchors:
        raise InvalidTrustAnchor(f"the trust chain ends at {anchor_id}, which is not a trusted trust anchor")
    anchor_configuration = last if last.is_configuration else None
    issuers = [s.iss for s in (chain[:-1] if anchor_configuration is not None and len(chain) > 1 else chain)]
    if len(set(issuers)) != len(issuers):
        raise InvalidTrustChain("the trust chain names the same entity twice (a loop)")
    if len(issuers) > max_chain_length:
        raise InvalidTrustChain(f"the trust chain is longer than {max_chain_length} entities")
    for j in range(len(chain) - 1):
        upper = chain[j + 1]
        if chain[j].iss != upper.sub:  # section 4: ES[j]["iss"] == ES[j+1]["sub"]
            raise InvalidTrustChain(
                f"the statement about {chain[j].sub} is followed by one about {upper.sub}, "
                f"not about its issuer {chain[j].iss}"
            )
        if upper.is_configuration and j + 1 != len(chain) - 1:
            raise InvalidTrustChain("only the last statement of a trust chain may be an entity configuration")
    if len(chain) > 1 and chain[1].iss not in subject.authority_hints:
        # Section 3.2: a subordinate statement's issuer must be among the subject's authority_hints.
        raise InvalidTrustChain(f"{chain[1].iss} is not among the authority_hints of {subject.sub}")
    for statement in chain:
        statement.check_time(now, leeway=leeway)
    _verify_signatures(chain, trust_anchors[anchor_id], algorithms)
    claims = [s.claims for s in chain]
    enforce_constraints(claims)
    subordinates = [s for s in chain[1:] if not s.is_configuration]
    metadata = _resolve_metadata(subject, subordinates, claims)
    return TrustChain(
        statements=tuple(
            s if s.verified else EntityStatement(s.token, s.header, s.claims, verified=True) for s in chain
        ),
        trust_anchor_id=anchor_id,
        anchor_configuration=anchor_configuration,
        exp=min(s.exp for s in chain),  # section 10.4
        metadata=metadata[0],
        policy=metadata[1],
    )


def _verify_signatures(
    chain: list[EntityStatement], anchor_jwks: Mapping[str, Any], algorithms: Collection[str]
) -> None:
    # Section 10.2: ES[0] validates with its own jwks; every ES[j] with a key in ES[j+1]["jwks"];
    # the last statement (the anchor's configuration or its subordinate statement) with the
    # anchor's keys configured out of band.
    chain[0].verify(chain[0].jwks, algorithms=algorithms, signer=f"{chain[0].sub} (self-signed)")
    for j in range(len(chain) - 1):
        chain[j].verify(chain[j + 1].jwks, algorithms=algorithms, signer=chain[j].iss)
    chain[-1].verify(anchor_jwks, algorithms=algorithms, signer=f"the trust anchor {chain[-1].iss}")


def _resolve_metadata(
    subject: EntityStatement, subordinates: list[EntityStatement], claims: list[Mapping[str, Any]]
) -> tuple[dict[str, dict[str, Any]], Policy | None]:
    # Section 6.1.4.2 and 6.2.3: the immediate superior's metadata first, then the entity
    # type constraints, then the resolved policy (merged from the anchor downwards).
    superior_metadata = subordinates[0].metadata if subordinates else None
    metadata = apply_superior_metadata(subject.metadata, superior_metadata)
    allowed = allowed_entity_types(claims)
    if allowed is not None:
        metadata = {t: v for t, v in metadata.items() if t in allowed}
    policy = resolve_policy([s.claims for s in reversed(subordinates)])
    return apply_policy(metadata, policy), policy
