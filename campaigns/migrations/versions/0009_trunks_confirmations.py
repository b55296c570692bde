"""trunks: the admin-managed list campaigns pick from; turns keep confirmations asked

A campaign's `trunk` used to be free text (any host:port, answered with the workers'
credentials): it now names a row of `trunk`. Existing values become trunks of the same
name and host, without credentials and with the caller IDs their campaigns used, for an
admin to review. A customer turn records whether the robot asked to confirm an
irreversible action on it (`confirmation`) and which such action it committed (`commits`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 00:00:00
"""
import re

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    trunk = op.create_table(
        'trunk',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(64), nullable=False, unique=True),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('transport', sa.String(8), nullable=False, server_default='udp'),
        sa.Column('registrar', sa.String(255), nullable=True),
        sa.Column('outbound_proxy', sa.String(255), nullable=True),
        sa.Column('username', sa.String(128), nullable=True),
        sa.Column('password', sa.String(255), nullable=True),
        sa.Column('realm', sa.String(255), nullable=True),
        sa.Column('caller_ids', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(64), nullable=True),
    )
    with op.batch_alter_table('turn') as batch:
        batch.add_column(sa.Column('confirmation', sa.String(16), nullable=True))
        batch.add_column(sa.Column('commits', sa.String(32), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT trunk, caller_id FROM campaign WHERE trunk IS NOT NULL")).all()
    found: dict[str, set[str]] = {}
    for host, caller_id in rows:
        ids = found.setdefault(host, set())
        if caller_id and re.fullmatch(r"\+[0-9]{6,15}", caller_id):
            ids.add(caller_id)
    from datetime import UTC, datetime
    op.bulk_insert(trunk, [
        {"name": host[:64], "host": host, "transport": "udp", "caller_ids": sorted(ids),
         "created_at": datetime.now(UTC), "updated_by": "migration 0009"}
        for host, ids in sorted(found.items())])


def downgrade() -> None:
    with op.batch_alter_table('turn') as batch:
        batch.drop_column('commits')
        batch.drop_column('confirmation')
    op.drop_table('trunk')
