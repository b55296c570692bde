"""import_batch: status, progress and message of background imports; the phone column

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_batch') as batch:
        batch.add_column(sa.Column('status', sa.String(16), nullable=False,
                                   server_default='done'))
        batch.add_column(sa.Column('progress', sa.Float(), nullable=False,
                                   server_default='1.0'))
        batch.add_column(sa.Column('message', sa.Text(), nullable=True))
        batch.add_column(sa.Column('phone_column', sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_batch') as batch:
        for name in ('phone_column', 'message', 'progress', 'status'):
            batch.drop_column(name)
