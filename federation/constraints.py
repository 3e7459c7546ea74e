"""Trust chain constraints of subordinate statements (section 6.2).

Each subordinate statement's ``constraints`` apply independently to its subject and all
entities below it in the chain; any failing check invalidates the chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from federation.errors import FederationError, InvalidTrustChain

FEDERATION_ENTITY = "federation_entity"


def check_constraints_syntax(
    value: Any, about: str, error: type[FederationError] = InvalidTrustChain
) -> None:
    """The ``constraints`` claim is well formed (sections 6.2.1-6.2.3); unknown members are ignored."""
    if not isinstance(value, Mapping):
        raise error(f"{about} has a constraints claim that is not a JSON object")
    if "max_path_length" in value:
        mpl = value["max_path_length"]
        if isinstance(mpl, bool) or not isinstance(mpl, int) or mpl < 0:
            raise error(f"{about} has a max_path_length that is not an integer >= 0")
    if "naming_constraints" in value:
        nc = value["naming_constraints"]
        if not isinstance(nc, Mapping):
            raise error(f"{about} has naming_constraints that are not a JSON object")
        for member in ("permitted", "excluded"):
            names = nc.get(member, [])
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                raise error(f"{about} has naming_constraints.{member} that is not an array of names")
    if "allowed_entity_types" in value:
        types = value["allowed_entity_types"]
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise error(f"{about} has allowed_entity_types that is not an array of strings")
        if FEDERATION_ENTITY in types:  # section 6.2.3: always allowed, never listed
            raise error(f"{about} lists federation_entity in allowed_entity_types")


def name_matches(host: str, constraint: str) -> bool:
    """RFC 5280 section 4.2.1.10 domain matching, as section 6.2.2 adopts it.

    ``.example.com`` matches any host with one or more labels before it but not
    ``example.com`` itself; ``host.example.com`` matches that host only. DNS names compare
    without regard to case.
    """
    host, constraint = host.lower().rstrip("."), constraint.lower().rstrip(".")
    if constraint.startswith("."):
        return host.endswith(constraint) and len(host) > len(constraint)
    return host == constraint


def enforce_constraints(chain: Sequence[Mapping[str, Any]]) -> None:
    """Apply every subordinate statement's constraints to the chain (claims sets, ES[0] first).

    ``chain[j]`` for j >= 1 is the statement by an authority about ``chain[j]["sub"]``; its
    constraints cover the subjects of ``chain[0..j]``.
    """
    for j in range(1, len(chain)):
        claims = chain[j]
        if claims.get("iss") == claims.get("sub"):
            continue  # the trust anchor's configuration carries no constraints
        constraints = claims.get("constraints") or {}
        issuer = claims.get("iss")
        if "max_path_length" in constraints:
            # Section 6.2.1: intermediates between the constraining entity and the subject.
            between = j - 1
            if between > constraints["max_path_length"]:
                raise InvalidTrustChain(
                    f"{issuer} allows at most {constraints['max_path_length']} intermediate(s) "
                    f"below it, the chain has {between}"
                )
        naming = constraints.get("naming_constraints")
        if naming:
            for below in chain[: j + 1]:
                _check_name(str(below.get("sub")), naming, str(issuer))


def _check_name(entity_id: str, naming: Mapping[str, Any], issuer: str) -> None:
    host = urlsplit(entity_id).hostname or ""
    # Section 6.2.2: an excluded match wins over any permitted one.
    if any(name_matches(host, c) for c in naming.get("excluded", [])):
        raise InvalidTrustChain(f"{entity_id} is in a namespace {issuer} excludes")
    permitted = naming.get("permitted", [])
    if permitted and not any(name_matches(host, c) for c in permitted):
        raise InvalidTrustChain(f"{entity_id} is outside the namespaces {issuer} permits")


def allowed_entity_types(chain: Sequence[Mapping[str, Any]]) -> set[str] | None:
    """The entity types every ``allowed_entity_types`` constraint in the chain admits.

    None means no statement constrains them; ``federation_entity`` is always allowed.
    """
    allowed: set[str] | None = None
    for claims in chain[1:]:
        if claims.get("iss") == claims.get("sub"):
            continue
        types = (claims.get("constraints") or {}).get("allowed_entity_types")
        if types is not None:
            allowed = set(types) if allowed is None else allowed & set(types)
    return None if allowed is None else allowed | {FEDERATION_ENTITY}
