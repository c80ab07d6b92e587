"""Indexes for reading and changing what is there (issue 16).

The parser now looks up an agent's open follow-ups by due time or title words ("my 2pm", "the
contract reminder"), the follow-up changed or reminded last ("push it back an hour"), and the
leads with an interaction of a type in a period ("everyone I called this week"). These indexes
keep each of those one small read for an agent with 20,000 follow-ups and 50,000 interactions.
On a large live table build them with CREATE INDEX CONCURRENTLY instead.

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-10 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0004"
branch_labels = None
depends_on = None

_OPEN = "state = 'scheduled'"


def upgrade() -> None:
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_open_due', ['agent_id', 'due_at'], unique=False,
                              postgresql_where=sa.text(_OPEN), sqlite_where=sa.text(_OPEN))
        batch_op.create_index('ix_appointments_open_lead_due', ['lead_id', 'due_at'],
                              unique=False, postgresql_where=sa.text(_OPEN),
                              sqlite_where=sa.text(_OPEN))
        batch_op.create_index('ix_appointments_agent_id_updated_at', ['agent_id', 'updated_at'],
                              unique=False)
    with op.batch_alter_table('client_interactions', schema=None) as batch_op:
        batch_op.create_index('ix_client_interactions_agent_id_occurred_at',
                              ['agent_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('client_interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_client_interactions_agent_id_occurred_at')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('ix_appointments_agent_id_updated_at')
        batch_op.drop_index('ix_appointments_open_lead_due', postgresql_where=sa.text(_OPEN),
                            sqlite_where=sa.text(_OPEN))
        batch_op.drop_index('ix_appointments_open_due', postgresql_where=sa.text(_OPEN),
                            sqlite_where=sa.text(_OPEN))
