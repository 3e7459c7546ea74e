"""one successor per refresh token: the sealed successor kept for the reuse grace window

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable and empty: tokens rotated before the upgrade have no successor to hand out,
    # so a replay of one inside the grace window is refused (invalid_grant), never forked.
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('successor', sa.String(length=255), nullable=True))
        batch_op.create_index('ix_refresh_tokens_sealed', ['grant_id'], unique=False,
                              postgresql_where=sa.text('successor IS NOT NULL'),
                              sqlite_where=sa.text('successor IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_refresh_tokens_sealed')
        batch_op.drop_column('successor')
