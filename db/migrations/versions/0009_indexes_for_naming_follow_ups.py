"""Indexes for the parser naming follow-ups (issue 16: reading and changing what is there).

The parser now looks up a lead's open follow-ups ("cancel the follow-up with Dana", earliest
first) and the follow-up changed last ("push it back an hour" right after a change). The
agent's open follow-ups by due time and interactions by time and type are served by 0008's
indexes. On a large live table build these with CREATE INDEX CONCURRENTLY instead.

Revision ID: 0009
Revises: 0007 (written on 0004; chained after 0006, 0008 and 0007 when the branches met)
Create Date: 2026-12-03 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

_OPEN = "state = 'scheduled'"


def upgrade() -> None:
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_open_lead_due', ['lead_id', 'due_at'],
                              unique=False, postgresql_where=sa.text(_OPEN),
                              sqlite_where=sa.text(_OPEN))
        batch_op.create_index('ix_appointments_agent_id_updated_at', ['agent_id', 'updated_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('ix_appointments_agent_id_updated_at')
        batch_op.drop_index('ix_appointments_open_lead_due', postgresql_where=sa.text(_OPEN),
                            sqlite_where=sa.text(_OPEN))
