"""The audit log's tables: hash-chained records, their erasable personal data, checkpoints.

``audit_records`` and ``audit_checkpoints`` are append-only: triggers (created with the
tables, see :func:`append_only_ddl` for the migration) refuse UPDATE, DELETE and TRUNCATE,
so tampering needs DDL rights and is then caught by ``hub.audit.verify_chain``.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    DDL,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.db import Base, UTCDateTime
from hub.persistence.models.clients import CLIENT_ID_LENGTH


class AuditRecord(Base):
    __tablename__ = "audit_records"
    __table_args__ = (CheckConstraint("seq >= 1", name="seq_positive"),)

    # Dense 1, 2, 3...; assigned under the append lock, so a gap means a deleted record.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str | None] = mapped_column(String(255))
    client_id: Mapped[str | None] = mapped_column(String(CLIENT_ID_LENGTH))
    # Canonical JSON text (sorted keys, compact): hashed as the object it encodes.
    detail: Mapped[str] = mapped_column(Text)
    # HMAC-SHA256(salt, personal data) or NULL: the chain covers this, not the data.
    personal_commitment: Mapped[str | None] = mapped_column(String(64))
    # Unique: a second guard against two writers chaining onto the same record (a fork).
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))


class AuditPersonalData(Base):
    """Personal data of one record, kept outside the chain so it can be erased."""

    __tablename__ = "audit_personal_data"
    __table_args__ = (
        CheckConstraint(
            "(erased_at IS NULL AND salt IS NOT NULL AND data IS NOT NULL)"
            " OR (erased_at IS NOT NULL AND salt IS NULL AND data IS NULL)",
            name="erased_or_present",
        ),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("audit_records.seq"), primary_key=True, autoincrement=False
    )
    # The doctor (opaque account id) whose data this is; the key for erasure requests.
    subject: Mapped[str | None] = mapped_column(String(255), index=True)
    salt: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    # Canonical JSON object of strings: {"address": ..., "email": ..., "name": ...}.
    data: Mapped[str | None] = mapped_column(Text)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Stands in for the erased person; the same for all records of one erasure request.
    pseudonym: Mapped[str | None] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement "record ``seq`` has hash ``record_hash``" made at ``created_at``."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    record_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    algorithm: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(200))


# Typed handles for Core statements (``__table__`` is typed as a bare FromClause).
RECORDS = cast(Table, AuditRecord.__table__)
PERSONAL_DATA = cast(Table, AuditPersonalData.__table__)
CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
AUDIT_TABLES = (RECORDS, PERSONAL_DATA, CHECKPOINTS)
APPEND_ONLY_TABLES = ("audit_records", "audit_checkpoints")


_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    # No '%' placeholders: DDL() and the psycopg paramstyle would both try to interpolate.
    "$$ BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $$"
)


def _table_triggers(table: str, dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            _PG_FUNCTION,  # CREATE OR REPLACE: harmless to repeat per table
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
        ]
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for op in ("UPDATE", "DELETE")
        ]
    return []


def append_only_ddl(dialect: str) -> list[str]:
    """Statements that make the append-only tables refuse UPDATE/DELETE (for the migration)."""
    stmts: list[str] = []
    for table in APPEND_ONLY_TABLES:
        stmts += [s for s in _table_triggers(table, dialect) if s not in stmts]
    return stmts


# One round trip per append on PostgreSQL (hub/audit/log.py): lock, tail, hash and insert
# run in the database, in the statement's own transaction. The caller sends the hashed text
# up to the chain fields (hub.audit.chain.hash_text_head); the tail built here must equal
# hash_text_tail: prev_hash is always 64 hex digits, times are UTC with microseconds.
# VOLATILE, so the tail is read with a snapshot taken after the lock is granted.
AUDIT_APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_append(
    lock_key bigint, now_at timestamptz, head text, event_name text, actor_id text,
    client text, detail_text text, commitment_hex text,
    subject_id text, salt_bytes bytea, personal_text text)
RETURNS TABLE (appended_seq bigint, appended_hash text, appended_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    tail_seq bigint; tail_hash text; tail_at timestamptz;
    new_seq bigint; new_prev text; new_at timestamptz; new_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT r.seq, r.hash, r.occurred_at INTO tail_seq, tail_hash, tail_at
        FROM audit_records r ORDER BY r.seq DESC LIMIT 1;
    new_seq := coalesce(tail_seq, 0) + 1;
    new_prev := coalesce(tail_hash, repeat('0', 64));
    new_at := greatest(now_at, tail_at);
    new_hash := encode(sha256(convert_to(
        head || '"' || new_prev || '","seq":' || new_seq::text || ',"time":"'
        || to_char(new_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"}',
        'UTF8')), 'hex');
    INSERT INTO audit_records (seq, occurred_at, event, actor, client_id, detail,
                               personal_commitment, prev_hash, hash)
        VALUES (new_seq, new_at, event_name, actor_id, client, detail_text,
                commitment_hex, new_prev, new_hash);
    IF personal_text IS NOT NULL THEN
        INSERT INTO audit_personal_data (seq, subject, salt, data)
            VALUES (new_seq, subject_id, salt_bytes, personal_text);
    END IF;
    RETURN QUERY SELECT new_seq, new_hash, new_at;
END $$
"""

# create_all (tests, first start without Alembic) installs the same triggers.
for _name in APPEND_ONLY_TABLES:
    for _dialect in ("postgresql", "sqlite"):
        for _stmt in _table_triggers(_name, _dialect):
            event.listen(Base.metadata.tables[_name], "after_create", DDL(_stmt).execute_if(dialect=_dialect))
event.listen(Base.metadata.tables["audit_records"], "after_create",
             DDL(AUDIT_APPEND_FUNCTION).execute_if(dialect="postgresql"))
