"""client ids as long as an entity id: federation members' client id is their entity id, a URL

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

WIDTH = 2000
# (table, the client_id column's width before)
COLUMNS = [('clients', 64), ('grants', 64), ('consents', 64), ('client_policy_versions', 64),
           ('registration_access_tokens', 64), ('logout_outbox', 64),
           ('federation_registrations', 64), ('audit_records', 255)]


def upgrade() -> None:
    _resize({table: (before, WIDTH) for table, before in COLUMNS})


def downgrade() -> None:
    # Fails on a database holding a longer client id, rather than cutting it.
    _resize({table: (WIDTH, before) for table, before in COLUMNS})


def _resize(widths: dict[str, tuple[int, int]]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        for table, (before, after) in widths.items():
            op.alter_column(table, 'client_id', type_=sa.String(after),
                            existing_type=sa.String(before))
        return
    # SQLite ignores a VARCHAR's length, so only the declared type changes. A batch rebuild
    # would drop and re-create `clients`, and with foreign keys on (hub/persistence/db.py),
    # which cannot be switched off inside the migration's transaction, dropping it cascades
    # into every grant and consent. SQLite's documented procedure for a change that leaves
    # the stored data as it is edits the schema text instead (sqlite.org/lang_altertable.html,
    # section 7: writable_schema, then a new schema_version).
    version = bind.exec_driver_sql('PRAGMA schema_version').scalar_one()
    bind.exec_driver_sql('PRAGMA writable_schema=ON')
    for table, (before, after) in widths.items():
        bind.execute(sa.text("UPDATE sqlite_master SET sql = replace(sql, :old, :new) "
                             "WHERE type = 'table' AND name = :table"),
                     {'old': f'client_id VARCHAR({before})', 'new': f'client_id VARCHAR({after})',
                      'table': table})
    bind.exec_driver_sql(f'PRAGMA schema_version={int(version) + 1}')
    bind.exec_driver_sql('PRAGMA writable_schema=OFF')
