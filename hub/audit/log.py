"""Appending to the chain: one short transaction, serialised so the chain never forks.

Two writers that read the same tail would both chain onto it. Appends therefore take one
lock for the rest of their transaction (PostgreSQL: a transaction-scoped advisory lock;
SQLite: its single write lock, taken up front with ``BEGIN IMMEDIATE``), read the tail,
and insert. The unique constraints on ``seq`` and ``prev_hash`` are a second guard: a
writer that somehow skipped the lock fails instead of forking the chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Executable, bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime, LargeBinary, String

from hub.audit.chain import GENESIS_HASH, commitment, hash_text_head, new_salt, record_hash
from hub.audit.detail import clean_detail, clean_identifier, clean_personal
from hub.audit.errors import AuditConflictError, AuditDetailError, AuditError
from hub.audit.events import AuditEvent, get_event
from hub.persistence.db import Database, utcnow
from hub.persistence.hotsql import ConnectionExecutor, Executor
from hub.persistence.models.audit import PERSONAL_DATA, RECORDS

# One constant key per application; derived from a name so it cannot collide by accident
# with advisory locks taken elsewhere in the hub.
APPEND_LOCK_KEY = int.from_bytes(hashlib.sha256(b"curbside:audit:append").digest()[:8], "big", signed=True)
STANDALONE_ATTEMPTS = 5
_LOCK_PG = text("SELECT pg_advisory_xact_lock(:key)")
_INSERT_RECORD = insert(RECORDS)
_INSERT_PERSONAL = insert(PERSONAL_DATA)
# hub/persistence/models/audit.py: AUDIT_APPEND_FUNCTION (PostgreSQL, one round trip).
_APPEND_PG = text(
    "SELECT appended_seq AS seq, appended_hash AS hash, appended_at AS occurred_at "
    "FROM audit_append(:lock_key, :now_at, :head, :event_name, :actor_id, :client, "
    ":detail_text, :commitment_hex, :subject_id, :salt_bytes, :personal_text)"
).bindparams(
    bindparam("now_at", type_=DateTime(timezone=True)),
    bindparam("salt_bytes", type_=LargeBinary()),
    *(bindparam(name, type_=String()) for name in (
        "head", "event_name", "actor_id", "client", "detail_text", "commitment_hex",
        "subject_id", "personal_text")),
)
_TAIL = select(RECORDS.c.seq, RECORDS.c.hash, RECORDS.c.occurred_at).order_by(
    RECORDS.c.seq.desc()).limit(1)


@dataclass(frozen=True)
class AppendedRecord:
    seq: int
    hash: str
    occurred_at: datetime


@dataclass(frozen=True)
class _Prepared:
    """Everything that can be computed before taking the lock (keeps the lock short)."""

    event: str
    actor: str | None
    client_id: str | None
    detail: str
    personal: str | None
    salt: bytes | None
    commitment: str | None
    subject: str | None
    occurred_at: datetime | None


def acquire_append_lock(conn: Connection) -> None:
    """Serialise appends until the end of ``conn``'s current transaction."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(_LOCK_PG, {"key": APPEND_LOCK_KEY})
    elif dialect == "sqlite":
        raw = conn.connection.dbapi_connection
        # pysqlite opens a transaction only before the first INSERT/UPDATE/DELETE, so an
        # open one has already written and therefore holds SQLite's single write lock.
        if not getattr(raw, "in_transaction", False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        raise AuditError(f"the audit log does not support the {dialect} database")


def _lock(tx: Executor) -> None:
    if isinstance(tx, ConnectionExecutor):
        acquire_append_lock(tx.conn)  # SQLite's write lock, or PostgreSQL through SQLAlchemy
    else:
        tx.execute(_LOCK_PG, {"key": APPEND_LOCK_KEY})  # PostgreSQL on the raw driver


def append(
    target: Database | Session,
    event: str | AuditEvent,
    *,
    actor: str | None,
    client_id: str | None = None,
    address: str | None = None,
    detail: Mapping[str, Any] | None = None,
    personal: Mapping[str, str | None] | None = None,
    subject: str | None = None,
    occurred_at: datetime | None = None,
    after: tuple[Executable, Mapping[str, Any]] | None = None,
) -> AppendedRecord:
    """Append one record and return its seq and hash.

    ``target`` is either the hub's ``Session`` (the record commits or rolls back with the
    caller's own change; call it last, as the lock is held until the caller commits) or a
    ``Database`` (its own short transaction, retried on a lost race).

    ``actor`` and ``client_id`` are opaque ids. ``address`` (client IP) and ``personal``
    (e.g. ``{"email": ..., "name": ...}``) are personal data: stored outside the chain,
    erasable; ``subject`` is the doctor's account id they belong to (the erasure key).
    ``detail`` is a small JSON object that must hold no secrets, tokens, document contents
    or personal data (see hub/audit/detail.py). ``occurred_at`` defaults to now.
    ``after`` is a data-modifying statement (and its parameters) that the record audits:
    it commits with the record or not at all (with a ``Database``, in the same round trip
    on PostgreSQL).
    """
    prepared = _prepare(event, actor, client_id, address, detail, personal, subject, occurred_at)
    if isinstance(target, Session):
        conn = target.connection()
        try:
            if after is not None:
                conn.execute(after[0], dict(after[1]))
            # A savepoint would not help: the lock and the tail belong to the outer transaction.
            acquire_append_lock(conn)
            return _append_locked(ConnectionExecutor(conn), prepared)
        except IntegrityError as exc:
            raise AuditConflictError(
                "another writer appended the same audit seq; was the append lock skipped?"
            ) from exc
    last_error: IntegrityError | None = None
    for _ in range(STANDALONE_ATTEMPTS):
        try:
            if target.hot.raw and prepared.occurred_at is None:
                return _append_in_database(target, prepared, after)
            with target.hot.transaction() as tx:
                if after is not None:
                    tx.execute(*after)
                _lock(tx)
                return _append_locked(tx, prepared)
        except IntegrityError as exc:
            if after is not None:
                raise  # most likely the audited statement's own constraint: not a lost race
            last_error = exc
    raise AuditConflictError("could not append to the audit log after retries") from last_error


def _prepare(
    event: str | AuditEvent,
    actor: str | None,
    client_id: str | None,
    address: str | None,
    detail: Mapping[str, Any] | None,
    personal: Mapping[str, str | None] | None,
    subject: str | None,
    occurred_at: datetime | None,
) -> _Prepared:
    name = get_event(event).name
    personal_values: dict[str, str | None] = dict(personal or {})
    if address is not None:
        if "address" in personal_values:
            raise AuditDetailError("give the client address once: address= or personal['address']")
        personal_values["address"] = address
    personal_text = clean_personal(personal_values)
    salt = new_salt() if personal_text is not None else None
    if occurred_at is not None and occurred_at.tzinfo is None:
        raise AuditDetailError("occurred_at must be timezone-aware")
    return _Prepared(
        event=name,
        actor=clean_identifier(actor, "actor"),
        client_id=clean_identifier(client_id, "client_id"),
        detail=clean_detail(detail),
        personal=personal_text,
        salt=salt,
        commitment=commitment(salt, personal_text) if salt and personal_text else None,
        subject=clean_identifier(subject, "subject") if personal_text else None,
        occurred_at=occurred_at,
    )


def _append_locked(conn: Executor, p: _Prepared) -> AppendedRecord:
    tail = conn.first(_TAIL)
    seq = 1 if tail is None else tail["seq"] + 1
    prev_hash = GENESIS_HASH if tail is None else tail["hash"]
    # Times never go backwards along the chain, so a time range is also a seq range
    # (a clock stepped back by NTP would otherwise reorder exports).
    when = p.occurred_at or utcnow()
    if tail is not None and when < tail["occurred_at"]:
        if p.occurred_at is not None:
            raise AuditError("occurred_at is earlier than the last audit record")
        when = tail["occurred_at"]
    digest = record_hash(
        seq=seq,
        prev_hash=prev_hash,
        occurred_at=when,
        event=p.event,
        actor=p.actor,
        client_id=p.client_id,
        detail=p.detail,
        personal=p.commitment,
    )
    conn.execute(
        _INSERT_RECORD,
        {
            "seq": seq,
            "occurred_at": when,
            "event": p.event,
            "actor": p.actor,
            "client_id": p.client_id,
            "detail": p.detail,
            "personal_commitment": p.commitment,
            "prev_hash": prev_hash,
            "hash": digest,
        },
    )
    if p.personal is not None:
        conn.execute(
            _INSERT_PERSONAL,
            {"seq": seq, "subject": p.subject, "salt": p.salt, "data": p.personal},
        )
    return AppendedRecord(seq=seq, hash=digest, occurred_at=when)


def _append_in_database(db: Database, p: _Prepared,
                        after: tuple[Executable, Mapping[str, Any]] | None) -> AppendedRecord:
    """The same append as ``_append_locked``, in one statement (PostgreSQL's raw path).

    Six round trips (begin, lock, tail, two inserts, commit) become one, and the lock is
    held only while the database itself works. Explicit times keep the Python path: it
    refuses a time earlier than the tail, where this one moves "now" up to the tail.
    """
    head = hash_text_head(event=p.event, actor=p.actor, client_id=p.client_id,
                          detail=p.detail, personal=p.commitment)
    params = {
        "lock_key": APPEND_LOCK_KEY, "now_at": utcnow(), "head": head,
        "event_name": p.event, "actor_id": p.actor, "client": p.client_id,
        "detail_text": p.detail, "commitment_hex": p.commitment, "subject_id": p.subject,
        "salt_bytes": p.salt, "personal_text": p.personal,
    }
    row = (db.hot.first(_APPEND_PG, params) if after is None
           else db.hot.first_after(after[0], after[1], _APPEND_PG, params))
    assert row is not None  # the function always returns the appended record
    return AppendedRecord(seq=row["seq"], hash=row["hash"], occurred_at=row["occurred_at"])
