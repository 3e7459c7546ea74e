"""audit append in one round trip on PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 06:10:00
"""

from __future__ import annotations

from alembic import op

from hub.persistence.models.audit import AUDIT_APPEND_FUNCTION

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The hash chain's format is unchanged: appends through the function and through
    # hub/audit/log.py's SQL path build the same records, and both may run side by side.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(AUDIT_APPEND_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS audit_append(bigint, timestamptz, text, text, text, "
            "text, text, text, text, bytea, text)"
        )
