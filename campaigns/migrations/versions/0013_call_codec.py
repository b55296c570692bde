"""call attempts: the line's audio codec

call_attempt.codec: the codec the call negotiated, as pjsip names it ("PCMU/8000",
"PCMA/8000", "G722/16000"); NULL when no media flowed and for calls stored before. The
recogniser understands less over G.711's 8 kHz than over G.722, so an analyst reading a
badly understood call needs to see which line it was on.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('call_attempt') as batch:
        batch.add_column(sa.Column('codec', sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('call_attempt') as batch:
        batch.drop_column('codec')
