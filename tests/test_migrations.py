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
