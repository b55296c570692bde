"""imports: upload retention and one mapping at a time

import_batch.purged_at: when the stored upload was deleted under the retention rule
(campaigns/uploads.py). One mapping at a time needs no column: the mapping and the run
are compare-and-set updates of import_batch.status.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_batch') as batch:
        batch.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_batch') as batch:
        batch.drop_column('purged_at')
