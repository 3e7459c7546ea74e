"""Audit events of verification that the shared vocabulary (hub/audit/events.py) does not
list yet; registered at import as hub.audit.register_event allows for code outside it.

The vocabulary already has ``doctor:verification:verified|withdrawn|failed``.
"""

from __future__ import annotations

from typing import Final

from hub.audit import register_event

VERIFIED: Final = "doctor:verification:verified"
WITHDRAWN: Final = "doctor:verification:withdrawn"
FAILED: Final = "doctor:verification:failed"
QUEUED: Final = register_event("doctor:verification:queued").name  # sent to manual review
REJECTED: Final = register_event("doctor:verification:rejected").name  # a reviewer said no
VOUCH: Final = register_event("doctor:verification:vouch").name
PROFESSION_DECLARE: Final = register_event("doctor:profession:declare").name
DOCUMENT_UPLOAD: Final = register_event("doctor:document:upload").name
DOCUMENT_DECIDE: Final = register_event("doctor:document:decide").name
DOCUMENT_DELETE: Final = register_event("doctor:document:delete").name
DOCUMENT_VIEW: Final = register_event("admin:document:view").name
# An operator applied a register snapshot whose withdrawals exceeded the import guard.
WITHDRAWALS_ACCEPTED: Final = register_event("admin:register:withdrawals_accepted").name
