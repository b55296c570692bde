"""turn: processing time after the endpoint, TTS time and barge-in flag; attempt: slots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 03:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('call_attempt') as batch:
        batch.add_column(sa.Column('slots', sa.JSON(), nullable=True))
    with op.batch_alter_table('turn') as batch:
        batch.add_column(sa.Column('processing_ms', sa.Float(), nullable=True))
        batch.add_column(sa.Column('tts_ms', sa.Float(), nullable=True))
        batch.add_column(sa.Column('interrupted', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('turn') as batch:
        batch.drop_column('interrupted')
        batch.drop_column('tts_ms')
        batch.drop_column('processing_ms')
    with op.batch_alter_table('call_attempt') as batch:
        batch.drop_column('slots')
