"""Per-relying-party access and claim-release decisions: pure functions over plain data.

Never imports the hub, Flask, SQLAlchemy, Redis, connectors or federation (an
import-linter contract and tests/policies/test_boundaries.py hold this): the hub hands
policies plain facts and gets a Decision back.
"""

from policies.decide import Decision, decide
from policies.dry_run import dry_run
from policies.errors import PolicyError, Problem
from policies.facts import AccessRequest, Registration, SubjectFacts
from policies.messages import Wording, describe_access
from policies.model import (
    AccessRule,
    ClientPolicy,
    load_policy,
    load_policy_file,
    require_successor,
)
from policies.profiles import load_profiles
from policies.schema import policy_schema
from policies.vocabulary import (
    ACR_MFA,
    ACR_PHR,
    ACR_PWD,
    CLAIM_REGISTRATIONS,
    CLAIM_SELF_DECLARED_PROFESSION,
    CLAIM_VERIFIED_CLAIMS,
    CLAIMS,
    PROFESSIONS,
    AssuranceLevel,
    Licence,
    Reason,
    Remedy,
    SubjectType,
    claims_for_scopes,
)

__all__ = [
    "ACR_MFA",
    "ACR_PHR",
    "ACR_PWD",
    "CLAIMS",
    "CLAIM_REGISTRATIONS",
    "CLAIM_SELF_DECLARED_PROFESSION",
    "CLAIM_VERIFIED_CLAIMS",
    "PROFESSIONS",
    "AccessRequest",
    "AccessRule",
    "AssuranceLevel",
    "ClientPolicy",
    "Decision",
    "Licence",
    "PolicyError",
    "Problem",
    "Reason",
    "Registration",
    "Remedy",
    "SubjectFacts",
    "SubjectType",
    "Wording",
    "claims_for_scopes",
    "decide",
    "describe_access",
    "dry_run",
    "load_policy",
    "load_policy_file",
    "load_profiles",
    "policy_schema",
    "require_successor",
]
