"""Hardening (issue 15): voice turns by call, plan runs counted apart from re-queues, parked reminders.

* `messages.call_sid`: a voice turn's CallSid. Turns used to be stored with provider_sid
  "<CallSid>:<n>" cut to 64 characters, so an over-long CallSid made two turns collide (and the
  unique violation's traceback carried the phone and the text into the log). Existing voice
  rows are moved over: call_sid from the prefix, provider_sid emptied.
* `executed_plans.requeues`, `started_at`: how often the recovery sweep queued a plan again, and
  when its last run started. `attempts` now counts only runs a worker started, which is what
  MAX_PLAN_ATTEMPTS bounds; a plan merely waiting in a long queue is no longer given up. Plans
  still waiting keep their old count as re-queues, and start at 0 attempts.
* `appointments.parked_at`: a follow-up that fell due while its agent had opted out is parked
  (out of the dispatcher's partial index) until START, instead of being read by every dispatch.

Revision ID: 0005
Revises: 0009 (written on 0004; chained after 0006, 0008, 0007 and 0009 when the branches met)
Create Date: 2026-12-03 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0005"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_UNREMINDED = "state = 'scheduled' AND reminded_at IS NULL"
NEW_UNREMINDED = "state = 'scheduled' AND reminded_at IS NULL AND parked_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("call_sid", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_messages_call_sid"), ["call_sid"], unique=False)

    with op.batch_alter_table("executed_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requeues", sa.Integer(), server_default=sa.text("0"),
                                      nullable=False))
        batch_op.add_column(sa.Column("started_at", db.models.UTCDateTime(timezone=True),
                                      nullable=True))

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parked_at", db.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.drop_index("ix_appointments_due_unreminded",
                            postgresql_where=sa.text(OLD_UNREMINDED),
                            sqlite_where=sa.text(OLD_UNREMINDED))
        batch_op.create_index("ix_appointments_due_unreminded", ["due_at", "id"], unique=False,
                              postgresql_where=sa.text(NEW_UNREMINDED),
                              sqlite_where=sa.text(NEW_UNREMINDED))

    prefix = ("split_part(provider_sid, ':', 1)" if op.get_bind().dialect.name == "postgresql"
              else "substr(provider_sid, 1, instr(provider_sid, ':') - 1)")
    op.execute(
        f"UPDATE messages SET call_sid = {prefix}, provider_sid = NULL "
        "WHERE channel = 'voice' AND provider_sid LIKE '%:%'"
    )
    op.execute(
        "UPDATE executed_plans SET requeues = attempts, attempts = 0 WHERE state = 'confirmed'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE executed_plans SET attempts = requeues WHERE state = 'confirmed'"
    )
    # Voice rows get their old unique "<CallSid>:<id>" back (cut to fit, as before).
    joined = ("substr(call_sid || ':' || CAST(id AS TEXT), 1, 64)")
    op.execute(f"UPDATE messages SET provider_sid = {joined} "
               "WHERE call_sid IS NOT NULL AND provider_sid IS NULL")

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_due_unreminded",
                            postgresql_where=sa.text(NEW_UNREMINDED),
                            sqlite_where=sa.text(NEW_UNREMINDED))
        batch_op.create_index("ix_appointments_due_unreminded", ["due_at", "id"], unique=False,
                              postgresql_where=sa.text(OLD_UNREMINDED),
                              sqlite_where=sa.text(OLD_UNREMINDED))
        batch_op.drop_column("parked_at")

    with op.batch_alter_table("executed_plans", schema=None) as batch_op:
        batch_op.drop_column("started_at")
        batch_op.drop_column("requeues")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_call_sid"))
        batch_op.drop_column("call_sid")
