"""attempt leases: an open call's last sign of life

call_attempt.heartbeat_at: written every few seconds by the process placing the call
while it is dialing or answered; a stale one means that process stopped, and the
dispatcher closes the attempt as `interrupted` (campaigns/leases.py). The status index
lets it find open attempts of every campaign without scanning the table.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('call_attempt') as batch:
        batch.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_call_attempt_status', 'call_attempt', ['status'])


def downgrade() -> None:
    op.drop_index('ix_call_attempt_status', table_name='call_attempt')
    with op.batch_alter_table('call_attempt') as batch:
        batch.drop_column('heartbeat_at')
