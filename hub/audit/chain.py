"""The hash chain: what exactly is hashed, and the salted commitment to personal data.

A record's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, ASCII) of

    {"actor", "client_id", "detail", "event", "personal", "prev_hash", "seq", "time"}

where ``detail`` is the JSON object, ``time`` is ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC and
``personal`` is the commitment to the record's personal data (or null). Anyone with the
rows can recompute it with any JSON library; docs/audit.md spells it out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime

from hub.audit.detail import canonical_json

GENESIS_HASH = "0" * 64
SALT_BYTES = 32


def format_time(value: datetime) -> str:
    # Microseconds always, so the text is fixed-width and the same on both backends.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(
    *,
    seq: int,
    prev_hash: str,
    occurred_at: datetime,
    event: str,
    actor: str | None,
    client_id: str | None,
    detail: str,
    personal: str | None,
) -> str:
    """The chained hash; ``detail`` is the stored canonical JSON text of the detail object."""
    body = {
        "actor": actor,
        "client_id": client_id,
        "detail": json.loads(detail),
        "event": event,
        "personal": personal,
        "prev_hash": prev_hash,
        "seq": seq,
        "time": format_time(occurred_at),
    }
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def commitment(salt: bytes, personal: str) -> str:
    """HMAC-SHA256 keyed by a random per-record salt over the personal data's canonical JSON.

    The salt is what makes erasure work: while it exists the commitment proves the stored
    personal data is unchanged; once it is deleted the commitment is a MAC under a lost
    random key and reveals nothing (no dictionary attack on e-mail addresses), yet the
    chain that covers it still verifies.
    """
    return hmac.new(salt, personal.encode("utf-8"), hashlib.sha256).hexdigest()
