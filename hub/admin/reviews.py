"""The review queue in the console: a thin layer over hub.verification.review.

The verification module owns the decisions (what approving or rejecting changes, which
documents go with them, their audit records); the console checks the role, asks for the
reason, names the reviewer (``admin:<id>``) and passes the admin's address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.admin.tables import has_table
from hub.verification import review
from hub.verification.review import DOCUMENT_TYPES
from hub.verification.review import fetch_document as fetch
from hub.verification.review import review_queue as queue

# Without these tables (not migrated yet) the queue cannot exist.
TABLES = ("doctor_registrations", "review_documents", "vouches")
DOCUMENT_KINDS = {"licence": "licence or registration certificate", "badge": "hospital badge",
                  "id_document": "identity document"}


class ReviewInputError(ValueError):
    """The reviewer's input for a decision is incomplete; the message says what is missing."""


@dataclass(frozen=True)
class IdentityDocumentFacts:
    """What the reviewer read on an identity document (becomes OIDC4IDA document evidence)."""

    document_type: str | None
    given_name: str | None
    family_name: str | None
    issuer_country: str | None
    date_of_expiry: date | None


def queue_available(hub: Any) -> bool:
    return all(has_table(hub.db, t) for t in TABLES)


def review_queue(hub: Any) -> Any:
    return queue(hub)


def document_types() -> tuple[str, ...]:
    return tuple(DOCUMENT_TYPES)


def decide_registration(hub: Any, registration_id: int, approve: bool, *, actor: str, reason: str,
                        address: str) -> str:
    """Approve or reject a waiting registration; LookupError if it is not waiting."""
    decide = review.approve_registration if approve else review.reject_registration
    return str(decide(hub, registration_id, reviewer=actor, reason=reason, address=address))


def decide_document(hub: Any, document_id: int, accept: bool, *, actor: str, reason: str, address: str,
                    facts: IdentityDocumentFacts | None = None) -> str:
    """Accept or reject a waiting document; LookupError if it is not waiting,
    ReviewInputError if an identity document lacks what the reviewer must read on it."""
    if not accept:
        return str(review.reject_document(hub, document_id, reviewer=actor, reason=reason, address=address))
    f = facts or IdentityDocumentFacts(None, None, None, None, None)
    try:
        return str(review.accept_document(
            hub, document_id, reviewer=actor, reason=reason, address=address,
            document_type=f.document_type, given_name=f.given_name, family_name=f.family_name,
            issuer_country=f.issuer_country, date_of_expiry=f.date_of_expiry))
    except ValueError as e:
        raise ReviewInputError(str(e)) from None


def fetch_document(hub: Any, document_id: int, *, actor: str, address: str) -> Any:
    """The decrypted document (every view is audited by the verification module)."""
    return fetch(hub, document_id, reviewer=actor, address=address)
