"""New-lead alerts, nudges in the morning agenda, and the agent's settings for both (issue 19).

`lead_alerts`: a lead that arrived by any channel but the agent's own text, waiting to be (or
once) texted to the agent. `nudges`: the numbered suggestions a morning agenda carried.
`daily_agendas.composed_at`: the agenda claim is written by a worker now, not the beat; rows
from before were written when claimed. `users.alerts_at_night` / `users.nudges_on`: settings.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lead_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('batch', sa.String(length=64), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_lead_alerts_agent_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_lead_alerts_lead_id_leads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_lead_alerts_message_id_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_alerts')),
    sa.UniqueConstraint('lead_id', name=op.f('uq_lead_alerts_lead_id'))
    )
    with op.batch_alter_table('lead_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_lead_alerts_agent_id_sent_at', ['agent_id', 'sent_at'], unique=False)
        batch_op.create_index('ix_lead_alerts_waiting', ['created_at'], unique=False, postgresql_where=sa.text('sent_at IS NULL'), sqlite_where=sa.text('sent_at IS NULL'))

    op.create_table('nudges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agenda_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agenda_id'], ['daily_agendas.id'], name=op.f('fk_nudges_agenda_id_daily_agendas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_nudges_agent_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_nudges_lead_id_leads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nudges')),
    sa.UniqueConstraint('agenda_id', 'number', name=op.f('uq_nudges_agenda_id_number'))
    )
    with op.batch_alter_table('nudges', schema=None) as batch_op:
        batch_op.create_index('ix_nudges_agent_id_day', ['agent_id', 'day'], unique=False)
        batch_op.create_index(batch_op.f('ix_nudges_lead_id'), ['lead_id'], unique=False)

    with op.batch_alter_table('daily_agendas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('composed_at', db.models.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE daily_agendas SET composed_at = created_at")
    with op.batch_alter_table('daily_agendas', schema=None) as batch_op:
        batch_op.create_index('ix_daily_agendas_unwritten', ['created_at'], unique=False, postgresql_where=sa.text('composed_at IS NULL'), sqlite_where=sa.text('composed_at IS NULL'))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alerts_at_night', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('nudges_on', sa.Boolean(), server_default=sa.true(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('nudges_on')
        batch_op.drop_column('alerts_at_night')

    with op.batch_alter_table('daily_agendas', schema=None) as batch_op:
        batch_op.drop_index('ix_daily_agendas_unwritten', postgresql_where=sa.text('composed_at IS NULL'), sqlite_where=sa.text('composed_at IS NULL'))
        batch_op.drop_column('composed_at')

    with op.batch_alter_table('nudges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nudges_lead_id'))
        batch_op.drop_index('ix_nudges_agent_id_day')

    op.drop_table('nudges')
    with op.batch_alter_table('lead_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_alerts_waiting', postgresql_where=sa.text('sent_at IS NULL'), sqlite_where=sa.text('sent_at IS NULL'))
        batch_op.drop_index('ix_lead_alerts_agent_id_sent_at')

    op.drop_table('lead_alerts')
