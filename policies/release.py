"""Which claims go to the client: requested or essential, allowed, and actually held.

A claim is withheld when the hub has nothing true to put in it for this doctor. Only the
claims whose availability follows from SubjectFacts are judged here; for the others
(``name``, ``locale``...) the hub drops what it does not hold.
"""

from __future__ import annotations

from policies.facts import Registration, SubjectFacts
from policies.model import ClientPolicy
from policies.vocabulary import (
    ALWAYS_RELEASED,
    CLAIM_REGISTRATIONS,
    CLAIM_SELF_DECLARED_PROFESSION,
    CLAIM_VERIFIED_CLAIMS,
)


def unavailable_claims(subject: SubjectFacts, admitted_by: Registration | None) -> frozenset[str]:
    """Claims the hub cannot truthfully fill for this doctor in this request."""
    missing: set[str] = set()
    # verified_claims describes the registration that let the doctor in (OpenID Connect
    # for Identity Assurance: the verification behind the claims); entry on the honour
    # system has none, and a doctor must never look verified because of it.
    if admitted_by is None:
        missing.add(CLAIM_VERIFIED_CLAIMS)
    if not any(r.active for r in subject.registrations):
        missing.add(CLAIM_REGISTRATIONS)
    if subject.self_declared_profession is None:
        missing.add(CLAIM_SELF_DECLARED_PROFESSION)
    # An unverified address is withheld: relying parties too often match accounts on
    # email, and an address nobody proved to own would let its typist take one over.
    if not subject.email_verified:
        missing.update({"email", "email_verified"})
    return frozenset(missing)


def claims_to_release(
    policy: ClientPolicy,
    subject: SubjectFacts,
    requested: frozenset[str],
    admitted_by: Registration | None,
) -> tuple[frozenset[str], frozenset[str]]:
    """(claims to release, essential claims that cannot be released)."""
    allowed = frozenset(policy.allowed_claims) | ALWAYS_RELEASED
    essential = frozenset(policy.essential_claims)
    unavailable = unavailable_claims(subject, admitted_by)
    wanted = ((requested | essential) & allowed) | ALWAYS_RELEASED
    return wanted - unavailable, essential & unavailable
