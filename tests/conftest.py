"""Shared fixtures: a migrated database per backend, an app bound to it, a CLI runner.

Tests that take `app` (or `db_session`) run once on SQLite and once on PostgreSQL. PostgreSQL
comes from TEST_DATABASE_URL; without it those runs are skipped with that reason shown.
Each PostgreSQL test session works in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from db import migrate
from db.models import Base
from tests.databases import TemporarySchema
from webapp import create_app, get_db

TEST_SETTINGS = {
    "APP_ENV": "testing",
    "TESTING": True,
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "test-auth-token",
    "TWILIO_PHONE_NUMBER": "+13125550000",
    "PUBLIC_BASE_URL": "https://fieldline.test",
}


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL tests skipped: TEST_DATABASE_URL is not set")
    return url


@pytest.fixture(scope="session")
def postgresql_url(postgres_base_url: str) -> Iterator[str]:
    with TemporarySchema(postgres_base_url) as schema:
        yield schema.url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty-at-start database URL, once per backend."""
    url = request.getfixturevalue(f"{request.param}_url")
    migrate.upgrade(url)
    return url


def _empty_all_tables(app: Flask) -> None:
    with get_db(app).engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url})
    _empty_all_tables(app)
    yield app
    _empty_all_tables(app)
    get_db(app).dispose()


@pytest.fixture
def db_session(app: Flask):  # type: ignore[no-untyped-def]
    with get_db(app).session() as session:
        yield session


@pytest.fixture
def cli(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()
