"""login throttling: per-user and per-address failure counters

Wrong passwords no longer lock an account (anyone could lock anyone out, admins
included); they slow down the address they come from (campaigns/users.py). Each row
paces one source: an address, or one user name from one address. The key is a hash, so
the table holds no user names people typed (often a password in the wrong field). Times
are seconds since the epoch, so the pacing is one portable UPDATE on both backends.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_throttle',
        sa.Column('key', sa.String(64), primary_key=True),
        sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('last_attempt', sa.Float(), nullable=False),
        sa.Column('not_before', sa.Float(), nullable=False),
    )
    op.create_index('ix_login_throttle_last_attempt', 'login_throttle', ['last_attempt'])


def downgrade() -> None:
    op.drop_index('ix_login_throttle_last_attempt', table_name='login_throttle')
    op.drop_table('login_throttle')
