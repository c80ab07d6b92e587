"""Note templates and email drafts (issue 19).

`note_templates`: an agent's short names for notes they type often, one per name.
`email_drafts`: emails the assistant drafted for an agent to send to a lead themselves, kept so
the texted link and "log it" can find them.

Revision ID: 0012
Revises: 0005 (main's head when merged; written on 0007, the head then)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0012"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "note_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("created_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"],
                                name=op.f("fk_note_templates_agent_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_templates")),
        sa.UniqueConstraint("agent_id", "name", name=op.f("uq_note_templates_agent_id_name")),
    )
    op.create_table(
        "email_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("about", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("writer", sa.String(length=10), nullable=False),
        sa.Column("created_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("writer IN ('model', 'template')",
                           name=op.f("ck_email_drafts_writer_valid")),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"],
                                name=op.f("fk_email_drafts_agent_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"],
                                name=op.f("fk_email_drafts_lead_id_leads"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_drafts")),
    )
    with op.batch_alter_table("email_drafts", schema=None) as batch_op:
        batch_op.create_index("ix_email_drafts_agent_id_id", ["agent_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_email_drafts_lead_id"), ["lead_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("email_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_drafts_lead_id"))
        batch_op.drop_index("ix_email_drafts_agent_id_id")
    op.drop_table("email_drafts")
    op.drop_table("note_templates")
