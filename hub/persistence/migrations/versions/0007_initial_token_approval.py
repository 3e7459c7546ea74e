"""an initial access token may carry approval: networks it registers start active

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tokens issued before the upgrade carried no approval: false keeps their networks pending.
    with op.batch_alter_table('initial_access_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('initial_access_tokens', schema=None) as batch_op:
        batch_op.drop_column('approved')
