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
from collections.abc import Callable
from datetime import UTC, datetime

from hub.audit.detail import canonical_json

GENESIS_HASH = "0" * 64
SALT_BYTES = 32


# The C string encoder json.dumps(ensure_ascii=True) itself uses: same bytes, no overhead.
_encode_str: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def format_time(value: datetime) -> str:
    # Microseconds always, so the text is fixed-width and the same on both backends.
    # (isoformat is several times faster than strftime, which matters over 1M records.)
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _jstr(value: str | None) -> str:
    return "null" if value is None else _encode_str(value)


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
    """The chained hash. ``detail`` is the detail object's canonical JSON text, as stored.

    Equal to ``sha256(canonical_json(body))`` for the body in the module docstring; the
    text is assembled by hand (keys already in sorted order, detail embedded as is)
    because verifying a million records spends most of its time here.
    """
    text = hash_text_head(event=event, actor=actor, client_id=client_id, detail=detail,
                          personal=personal) + hash_text_tail(prev_hash, seq, occurred_at)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def hash_text_head(*, event: str, actor: str | None, client_id: str | None, detail: str,
                   personal: str | None) -> str:
    """The hashed text up to the chain's own fields, which only the appender knows.

    PostgreSQL appends finish the text in the database (``audit_append`` in
    hub/persistence/models/audit.py), which must build exactly what ``hash_text_tail`` builds.
    """
    return (
        '{"actor":' + _jstr(actor)
        + ',"client_id":' + _jstr(client_id)
        + ',"detail":' + detail
        + ',"event":' + _jstr(event)
        + ',"personal":' + _jstr(personal)
        + ',"prev_hash":'
    )  # fmt: skip


def hash_text_tail(prev_hash: str, seq: int, occurred_at: datetime) -> str:
    return (
        _jstr(prev_hash)
        + ',"seq":' + str(int(seq))
        + ',"time":"' + format_time(occurred_at)
        + '"}'
    )  # fmt: skip


def canonical_detail(detail: str) -> str | None:
    """The canonical form of stored detail text, or None if it is not a JSON object.

    Verification falls back to this when the fast hash does not match, so detail text
    that was re-serialised (same object, other spacing) is not reported as changed.
    """
    try:
        value = json.loads(detail)
    except ValueError:
        return None
    return canonical_json(value) if isinstance(value, dict) else None


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
