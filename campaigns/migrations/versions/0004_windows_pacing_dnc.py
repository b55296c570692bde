"""campaign: call window, schedule, pacing, retry delays per disposition, dry-run flag;
contact: time zones; dnc_entry: do-not-call lists

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaign') as batch:
        batch.add_column(sa.Column('window_start', sa.String(5), nullable=False,
                                   server_default='09:00'))
        batch.add_column(sa.Column('window_end', sa.String(5), nullable=False,
                                   server_default='20:00'))
        batch.add_column(sa.Column('first_day', sa.Date(), nullable=True))
        batch.add_column(sa.Column('last_day', sa.Date(), nullable=True))
        batch.add_column(sa.Column('max_cps', sa.Float(), nullable=False,
                                   server_default='1.0'))
        batch.add_column(sa.Column('retry_delays', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('dry_run', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table('contact') as batch:
        batch.add_column(sa.Column('timezones', sa.String(200), nullable=True))
    op.create_table(
        'dnc_entry',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('phone', sa.String(32), nullable=False),
        sa.Column('scope', sa.String(32), nullable=False),
        sa.Column('campaign_id', sa.Integer(),
                  sa.ForeignKey('campaign.id', ondelete='CASCADE'), nullable=True),
        sa.Column('source', sa.String(16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('added_by', sa.String(100), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('scope', 'phone', name='uq_dnc_scope_phone'),
    )
    op.create_index('ix_dnc_entry_phone', 'dnc_entry', ['phone'])


def downgrade() -> None:
    op.drop_index('ix_dnc_entry_phone', 'dnc_entry')
    op.drop_table('dnc_entry')
    with op.batch_alter_table('contact') as batch:
        batch.drop_column('timezones')
    with op.batch_alter_table('campaign') as batch:
        for name in ('dry_run', 'retry_delays', 'max_cps', 'last_day', 'first_day', 'window_end',
                     'window_start'):
            batch.drop_column(name)
