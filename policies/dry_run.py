"""Dry run: how a policy would treat a set of sample doctors, before it goes live."""

from __future__ import annotations

from collections.abc import Mapping

from policies.decide import Decision, decide
from policies.facts import AccessRequest, SubjectFacts
from policies.messages import PLAIN, Wording
from policies.model import ClientPolicy


def dry_run(
    policy: ClientPolicy,
    profiles: Mapping[str, SubjectFacts],
    request: AccessRequest,
    *,
    wording: Wording = PLAIN,
) -> list[tuple[str, Decision]]:
    """Each profile's Decision for the same request, in the mapping's order."""
    return [(name, decide(policy, facts, request, wording=wording))
            for name, facts in profiles.items()]
