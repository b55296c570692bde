"""audit_entry: who exported what (call detail records first), one row per action

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_entry',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('username', sa.String(64), nullable=False),
        sa.Column('role', sa.String(16), nullable=False),
        sa.Column('action', sa.String(32), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
    )
    op.create_index('ix_audit_entry_username', 'audit_entry', ['username'])


def downgrade() -> None:
    op.drop_index('ix_audit_entry_username', 'audit_entry')
    op.drop_table('audit_entry')
