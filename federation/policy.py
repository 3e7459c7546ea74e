"""Metadata policy (section 6.1): the seven standard operators, their allowed combinations,
the merge of the policies of a trust chain's superiors, and their application to metadata.

Everything here works on plain JSON data; errors are ``PolicyError`` (``invalid_metadata``),
and section 6.1.4 makes any of them invalidate the whole trust chain.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from federation.errors import PolicyError

# Section 6.1.3.1: the order in which the operators act on a metadata parameter.
STANDARD_OPERATORS: tuple[str, ...] = (
    "value",
    "add",
    "default",
    "one_of",
    "subset_of",
    "superset_of",
    "essential",
)

# Section 6.1.3.1: which operators may appear together in one parameter policy (symmetric).
_COMBINABLE: dict[str, frozenset[str]] = {
    "value": frozenset({"add", "default", "one_of", "subset_of", "superset_of", "essential"}),
    "add": frozenset({"value", "default", "subset_of", "superset_of", "essential"}),
    "default": frozenset({"value", "add", "one_of", "subset_of", "superset_of", "essential"}),
    "one_of": frozenset({"value", "default", "essential"}),
    "subset_of": frozenset({"value", "add", "default", "superset_of", "essential"}),
    "superset_of": frozenset({"value", "add", "default", "subset_of", "essential"}),
    "essential": frozenset({"value", "add", "default", "one_of", "subset_of", "superset_of"}),
}

# Section 6.1.3.2: scope is a space-separated string that operators treat as a string array.
_SPACE_SEPARATED = frozenset({"scope"})

Policy = dict[str, dict[str, dict[str, Any]]]


def _key(value: Any) -> str:
    """A comparable form of a JSON value (objects compare regardless of member order)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _contains(values: Iterable[Any], item: Any) -> bool:
    k = _key(item)
    return any(_key(v) == k for v in values)


def _subset(small: Iterable[Any], big: Sequence[Any]) -> bool:
    return all(_contains(big, v) for v in small)


def _union(first: Sequence[Any], second: Sequence[Any]) -> list[Any]:
    out = list(first)
    for v in second:
        if not _contains(out, v):
            out.append(v)
    return out


def _intersection(first: Sequence[Any], second: Sequence[Any]) -> list[Any]:
    return [v for v in first if _contains(second, v)]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):  # arrays are sets to the operators
        return _subset(a, b) and _subset(b, a)
    return _key(a) == _key(b)


def _as_list(name: str, value: Any) -> Any:
    if name in _SPACE_SEPARATED and isinstance(value, str):
        return value.split()
    return value


# ---------------------------------------------------------------------------- validation


def validate_policy(
    policy: Any, *, critical: Collection[str] = (), about: str = "a metadata policy"
) -> Policy:
    """Check a ``metadata_policy`` claim's structure, operator values and combinations.

    Returns a normalised copy without the additional operators that may be ignored: those
    not named in ``critical`` (the chain's ``metadata_policy_crit`` values, section 6.1.3.3).
    A critical operator we do not implement is a policy error.
    """
    if not isinstance(policy, Mapping):
        raise PolicyError(f"{about} is not a JSON object")
    out: Policy = {}
    for entity_type, params in policy.items():
        if not isinstance(params, Mapping):
            raise PolicyError(f"{about} for {entity_type} is not a JSON object")
        out[entity_type] = {}
        for name, operators in params.items():
            if not isinstance(operators, Mapping):
                raise PolicyError(f"{about} for {entity_type}.{name} is not a JSON object of operators")
            kept: dict[str, Any] = {}
            for op, value in operators.items():
                if op in STANDARD_OPERATORS:
                    kept[op] = _as_list(name, value) if op in ("value", "default") else value
                elif op in critical:
                    raise PolicyError(
                        f"{about} uses the critical operator {op!r} for {entity_type}.{name}, "
                        "which is not supported"
                    )
            _check_operator_values(kept, f"{entity_type}.{name}")
            _check_combinations(kept, f"{entity_type}.{name}")
            out[entity_type][name] = kept
    return out


def _check_operator_values(ops: Mapping[str, Any], where: str) -> None:
    for op, value in ops.items():
        if op == "essential":
            if not isinstance(value, bool):
                raise PolicyError(f"essential for {where} must be true or false")
        elif op == "default":
            if value is None:
                raise PolicyError(f"default for {where} must not be null")
        elif op == "one_of":
            if not isinstance(value, list) or not value:
                raise PolicyError(f"one_of for {where} must be a non-empty array")
        elif op in ("add", "subset_of", "superset_of"):
            if not isinstance(value, list):
                raise PolicyError(f"{op} for {where} must be an array")


def _check_combinations(ops: Mapping[str, Any], where: str) -> None:
    """Section 6.1.3.1: the per-operator combination rules, including the value conditions."""
    names = list(ops)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if b not in _COMBINABLE[a]:
                raise PolicyError(f"the operators {a} and {b} cannot be combined for {where}")
    if "value" in ops:
        value = ops["value"]
        # A null value (remove the parameter) meets none of the value conditions below: it is
        # not among the one_of values nor an array of add/subset_of/superset_of values; only
        # essential false combines with it (as the connect2id test vectors also read it).
        if value is None and "default" in ops:
            raise PolicyError(f"value null (remove) conflicts with default for {where}")
        if value is None and ops.get("essential") is True:
            raise PolicyError(f"value null (remove) conflicts with essential true for {where}")
        if "add" in ops and not (isinstance(value, list) and _subset(ops["add"], value)):
            raise PolicyError(f"the add values for {where} are not all among the value values")
        if "one_of" in ops and (value is None or not _contains(ops["one_of"], value)):
            raise PolicyError(f"value for {where} is not one of the one_of values")
        if "subset_of" in ops and not (isinstance(value, list) and _subset(value, ops["subset_of"])):
            raise PolicyError(f"value for {where} is not a subset of subset_of")
        if "superset_of" in ops and not (isinstance(value, list) and _subset(ops["superset_of"], value)):
            raise PolicyError(f"value for {where} is not a superset of superset_of")
    if "add" in ops and "subset_of" in ops and not _subset(ops["add"], ops["subset_of"]):
        raise PolicyError(f"the add values for {where} are not all within subset_of")
    if "subset_of" in ops and "superset_of" in ops and not _subset(ops["superset_of"], ops["subset_of"]):
        raise PolicyError(f"subset_of for {where} is not a superset of superset_of")


# ---------------------------------------------------------------------------- resolution


def _merge_operator(op: str, current: Any, subordinate: Any, where: str) -> Any:
    """Section 6.1.3.1 'Operator value merge' for one operator present at both levels."""
    if op in ("value", "default"):
        if not _equal(current, subordinate):
            raise PolicyError(f"the superiors set different {op} values for {where}")
        return current
    if op in ("add", "superset_of"):
        return _union(current, subordinate)
    if op == "subset_of":
        return _intersection(current, subordinate)
    if op == "one_of":
        merged = _intersection(current, subordinate)
        if not merged:
            raise PolicyError(f"the superiors' one_of values for {where} have nothing in common")
        return merged
    if op == "essential":
        return bool(current) or bool(subordinate)
    raise PolicyError(f"the operator {op} for {where} cannot be merged")


def merge_policies(current: Policy, subordinate: Policy) -> Policy:
    """Merge a subordinate's validated policy into the current one (section 6.1.4.1)."""
    merged: Policy = {t: {n: dict(ops) for n, ops in params.items()} for t, params in current.items()}
    for entity_type, params in subordinate.items():
        target = merged.setdefault(entity_type, {})
        for name, ops in params.items():
            where = f"{entity_type}.{name}"
            if name not in target:
                target[name] = dict(ops)
                continue
            combined = dict(target[name])
            for op, value in ops.items():
                combined[op] = _merge_operator(op, combined[op], value, where) if op in combined else value
            _check_combinations(combined, where)
            target[name] = {op: combined[op] for op in STANDARD_OPERATORS if op in combined}
    return merged


def resolve_policy(statements: Sequence[Mapping[str, Any]]) -> Policy | None:
    """The resolved metadata policy of a chain's subordinate statements (section 6.1.4.1).

    ``statements`` are the subordinate statements' claims from the most superior (issued by
    the trust anchor) down to the one issued by the subject's immediate superior. None when
    no statement carries a policy.
    """
    critical: set[str] = set()
    for claims in statements:
        critical.update(claims.get("metadata_policy_crit") or [])
    resolved: Policy | None = None
    for claims in statements:
        if "metadata_policy" not in claims:
            continue
        policy = validate_policy(
            claims["metadata_policy"], critical=critical, about=f"the metadata policy of {claims.get('iss')}"
        )
        resolved = policy if resolved is None else merge_policies(resolved, policy)
    return resolved


# ---------------------------------------------------------------------------- application


def apply_superior_metadata(
    metadata: Mapping[str, Mapping[str, Any]], superior_metadata: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Section 3.1.1 ``metadata``: the immediate superior's parameters override the subject's,
    only for entity types the subject's configuration declares."""
    out = {t: dict(params) for t, params in metadata.items()}
    for entity_type, params in (superior_metadata or {}).items():
        if entity_type in out:
            out[entity_type].update(params)
    return out


def apply_policy(
    metadata: Mapping[str, Mapping[str, Any]], policy: Policy | None
) -> dict[str, dict[str, Any]]:
    """Apply a resolved policy to metadata (section 6.1.4.2), operators in their fixed order.

    Policies for entity types the metadata does not have are not applied.
    """
    out = {t: dict(params) for t, params in metadata.items()}
    for entity_type, params in (policy or {}).items():
        if entity_type not in out:
            continue
        target = out[entity_type]
        for name, ops in params.items():
            _apply_parameter(target, name, ops, f"{entity_type}.{name}")
    return out


def _apply_parameter(target: dict[str, Any], name: str, ops: Mapping[str, Any], where: str) -> None:
    present = name in target
    value = _as_list(name, target.get(name))
    for op in STANDARD_OPERATORS:
        if op not in ops:
            continue
        arg = ops[op]
        if op == "value":
            if arg is None:
                present, value = False, None
            else:
                present, value = True, arg
        elif op == "add":
            if not present:
                present, value = True, list(arg)
            elif isinstance(value, list):
                value = _union(value, arg)
            else:
                raise PolicyError(f"add needs {where} to be an array")
        elif op == "default":
            if not present:
                present, value = True, arg
        elif op == "one_of":
            if present:
                if isinstance(value, list):
                    raise PolicyError(f"one_of cannot check the array {where}")
                if not _contains(arg, value):
                    raise PolicyError(f"{where} is {value!r}, which is not one of {arg!r}")
        elif op == "subset_of":
            if present:
                if not isinstance(value, list):
                    raise PolicyError(f"subset_of needs {where} to be an array")
                value = _intersection(value, arg)
        elif op == "superset_of":
            if present:
                if not isinstance(value, list):
                    raise PolicyError(f"superset_of needs {where} to be an array")
                missing = [v for v in arg if not _contains(value, v)]
                if missing:
                    raise PolicyError(f"{where} must include {missing!r}")
        elif op == "essential":
            if arg and not present:
                raise PolicyError(f"{where} is required by the federation's policy but missing")
    if present:
        if name in _SPACE_SEPARATED and isinstance(value, list):
            value = " ".join(str(v) for v in value)
        target[name] = value
    else:
        target.pop(name, None)
