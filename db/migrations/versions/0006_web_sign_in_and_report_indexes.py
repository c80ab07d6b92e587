"""The web app: one-time sign-in links and server-side sessions; indexes for its reports.

`login_links` and `web_sessions` hold only SHA-256 hashes of their secrets. The indexes let
the reports read one agent's rows in a time range without scanning everyone's.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-04 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"],
                                name=op.f("fk_login_links_agent_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_links_token_hash")),
    )
    with op.batch_alter_table("login_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_links_agent_id"), ["agent_id"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"],
                                name=op.f("fk_web_sessions_agent_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_web_sessions_id_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_agent_id"), ["agent_id"], unique=False)

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_agent_id_status", ["agent_id", "status"], unique=False)
    with op.batch_alter_table("client_interactions", schema=None) as batch_op:
        batch_op.create_index("ix_client_interactions_agent_id_occurred_at_type",
                              ["agent_id", "occurred_at", "type"], unique=False)
        batch_op.create_index("ix_client_interactions_lead_id_occurred_at",
                              ["lead_id", "occurred_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("client_interactions", schema=None) as batch_op:
        batch_op.drop_index("ix_client_interactions_lead_id_occurred_at")
        batch_op.drop_index("ix_client_interactions_agent_id_occurred_at_type")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_agent_id_status")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_agent_id"))
    op.drop_table("web_sessions")
    with op.batch_alter_table("login_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_links_agent_id"))
    op.drop_table("login_links")
