"""users: the time zone each person reads times in, and the language of their pages

app_user.time_zone: an IANA zone name ("Asia/Seoul"); NULL for everyone stored before
and for whoever never chose one, who reads times in the zone of the app's default
region (campaigns/preferences.py).
app_user.language: "en" or "ko"; NULL: the browser's language decides.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_user') as batch:
        batch.add_column(sa.Column('time_zone', sa.String(64), nullable=True))
        batch.add_column(sa.Column('language', sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('app_user') as batch:
        batch.drop_column('language')
        batch.drop_column('time_zone')
