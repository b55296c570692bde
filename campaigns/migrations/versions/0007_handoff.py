"""Human handoff: what became of an escalated call (agent, when the agent phone rang and
answered, abandoned or connected, the callback promised, the agent's disposition and
notes), and agents' SIP phones and skills

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 18:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_ATTEMPT = (
    ('agent', sa.String(length=64)),
    ('handoff_at', sa.DateTime(timezone=True)),
    ('agent_ringing_at', sa.DateTime(timezone=True)),
    ('agent_connected_at', sa.DateTime(timezone=True)),
    ('handoff_result', sa.String(length=16)),
    ('callback_at', sa.DateTime(timezone=True)),
    ('agent_disposition', sa.String(length=32)),
    ('agent_notes', sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table('call_attempt') as batch:
        for name, type_ in _ATTEMPT:
            batch.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table('app_user') as batch:
        batch.add_column(sa.Column('sip_uri', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('skills', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('app_user') as batch:
        batch.drop_column('skills')
        batch.drop_column('sip_uri')
    with op.batch_alter_table('call_attempt') as batch:
        for name, _ in reversed(_ATTEMPT):
            batch.drop_column(name)
