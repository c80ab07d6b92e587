"""Migrations create the schema from empty, match the models, and go down and up again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from db import migrate
from db.models import Base
from tests.support.databases import TemporarySchema

TABLES = {
    "users",
    "leads",
    "client_interactions",
    "appointments",
    "lead_history",
    "messages",
    "executed_plans",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path / "empty.sqlite3")
        return
    with TemporarySchema(request.getfixturevalue("postgres_base_url"), "fl_mig") as schema:
        yield schema.url


def test_upgrade_from_empty_creates_every_table_at_head(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    assert TABLES <= set(inspect(engine).get_table_names())
    assert migrate.current_revision(engine) == migrate.head_revision(empty_database_url)
    engine.dispose()


def test_migrated_schema_matches_the_models(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree; add a migration: {diff}"


def test_downgrade_to_base_and_upgrade_again(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    migrate.downgrade(empty_database_url, "base")
    engine = create_engine(empty_database_url)
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate.upgrade(empty_database_url)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_0005_moves_voice_turns_to_call_sid_and_waiting_plans_to_requeues(
        empty_database_url: str) -> None:
    """Voice turns stored as "<CallSid>:<n>" get their call in `call_sid`; a plan still
    waiting keeps its old count (re-queues then) as `requeues`, with no runs counted."""
    from sqlalchemy import text

    migrate.upgrade(empty_database_url, "0004")
    engine = create_engine(empty_database_url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO users (id, name, phone, timezone, opted_out, created_at) "
            "VALUES (1, 'A', '+13125550100', 'America/Chicago', false, CURRENT_TIMESTAMP)"))
        connection.execute(text(
            "INSERT INTO messages (provider_sid, direction, channel, body, status, created_at, "
            "updated_at) VALUES ('CA0123:7', 'inbound', 'voice', 'hi', 'received', "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), ('SM0123', 'inbound', 'sms', 'hi', "
            "'received', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        connection.execute(text(
            "INSERT INTO executed_plans (plan_id, agent_id, channel, state, plan, attempts, "
            "confirmed_at) VALUES ('waiting', 1, 'sms', 'confirmed', '{}', 3, "
            "CURRENT_TIMESTAMP), ('ran', 1, 'sms', 'executed', '{}', 2, CURRENT_TIMESTAMP)"))

    migrate.upgrade(empty_database_url, "0005")

    with engine.connect() as connection:
        messages = connection.execute(text(
            "SELECT channel, provider_sid, call_sid FROM messages ORDER BY id")).all()
        plans = connection.execute(text(
            "SELECT plan_id, attempts, requeues FROM executed_plans ORDER BY id")).all()
    engine.dispose()
    assert [tuple(m) for m in messages] == [("voice", None, "CA0123"), ("sms", "SM0123", None)]
    assert [tuple(p) for p in plans] == [("waiting", 0, 3), ("ran", 2, 0)]
