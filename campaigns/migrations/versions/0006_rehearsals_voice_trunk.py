"""campaign.rehearsal_of (dry-runs that rehearse a campaign point at it), and a
campaign's own TTS voice and trunk

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaign') as batch:
        batch.add_column(sa.Column('rehearsal_of', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('voice', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('trunk', sa.String(length=255), nullable=True))
        batch.create_foreign_key('fk_campaign_rehearsal_of', 'campaign', ['rehearsal_of'],
                                 ['id'], ondelete='CASCADE')
        batch.create_index('ix_campaign_rehearsal_of', ['rehearsal_of'])


def downgrade() -> None:
    with op.batch_alter_table('campaign') as batch:
        batch.drop_index('ix_campaign_rehearsal_of')
        batch.drop_constraint('fk_campaign_rehearsal_of', type_='foreignkey')
        batch.drop_column('trunk')
        batch.drop_column('voice')
        batch.drop_column('rehearsal_of')
