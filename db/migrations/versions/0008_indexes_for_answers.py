"""Indexes for the read-only answers (issue 16, "Reading what is there").

Every answer reads an agent's rows in a range (open follow-ups by due time, done ones by
completion, interactions and leads added in a period, status changes in a period, leads in a
status) and counts or lists the first few. Measured with bench/query_bench.py (an agent with
5,000 leads, 50,000 interactions and 20,000 follow-ups among 10 smaller agents, PostgreSQL): the
plans and figures are in the commit that adds this migration. The two partial indexes on
appointments hold only open (resp. done) rows, so the counts of thousands of overdue follow-ups
are index-only scans. On a large live table build them with CREATE INDEX CONCURRENTLY instead.

The leads' (agent, status) index and the interactions' (agent, time, type) index serve the
answers too; migration 0006 (the web app's reports) already creates them.

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

OPEN = sa.text("state = 'scheduled'")
DONE = sa.text("state = 'done'")


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index("ix_appointments_open", ["agent_id", "due_at"], unique=False,
                              postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.create_index("ix_appointments_done", ["agent_id", "completed_at"],
                              unique=False, postgresql_where=DONE, sqlite_where=DONE)
    with op.batch_alter_table("lead_history", schema=None) as batch_op:
        batch_op.create_index("ix_lead_history_agent_id_new_status_changed_at",
                              ["agent_id", "new_status", "changed_at"], unique=False)
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_agent_id_created_at", ["agent_id", "created_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_agent_id_created_at")
    with op.batch_alter_table("lead_history", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_history_agent_id_new_status_changed_at")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_done", postgresql_where=DONE, sqlite_where=DONE)
        batch_op.drop_index("ix_appointments_open", postgresql_where=OPEN, sqlite_where=OPEN)
