"""OpenID Federation: federation keys, federation registrations, subordinates, trust marks

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.persistence.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_TS = hub.persistence.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('federation_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('alg', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('private_jwk_enc', sa.Text(), nullable=False),
    sa.Column('public_jwk', sa.Text(), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_federation_keys'))
    )
    op.create_table('federation_registrations',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('trust_anchor', sa.String(length=2000), nullable=False),
    sa.Column('authority_hint', sa.String(length=2000), nullable=True),
    sa.Column('chain_expires_at', _TS, nullable=False),
    sa.Column('chain', sa.JSON(), nullable=False),
    sa.Column('trust_marks', sa.JSON(), nullable=False),
    sa.Column('resolved_at', _TS, nullable=False),
    sa.Column('failure', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_federation_registrations'))
    )
    op.create_table('federation_subordinates',
    sa.Column('entity_id', sa.String(length=2000), nullable=False),
    sa.Column('jwks', sa.JSON(), nullable=False),
    sa.Column('metadata_policy', sa.JSON(), nullable=True),
    sa.Column('entity_types', sa.JSON(), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.PrimaryKeyConstraint('entity_id', name=op.f('pk_federation_subordinates'))
    )
    op.create_table('federation_trust_marks',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('trust_mark_type', sa.String(length=2000), nullable=False),
    sa.Column('subject', sa.String(length=2000), nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('issued_at', _TS, nullable=False),
    sa.Column('expires_at', _TS, nullable=True),
    sa.Column('revoked_at', _TS, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federation_trust_marks'))
    )


def downgrade() -> None:
    op.drop_table('federation_trust_marks')
    op.drop_table('federation_subordinates')
    op.drop_table('federation_registrations')
    op.drop_table('federation_keys')
