"""Shared fixtures: a migrated database per backend, an app bound to it, a CLI runner.

Tests that take `app` (or `db_session`) run once on SQLite and once on PostgreSQL. PostgreSQL
comes from TEST_DATABASE_URL; without it those runs are skipped with that reason shown.
Each PostgreSQL test session works in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from db import migrate
from db.models import Base
from db.session import Database
from tests.support.api import ApiClient, new_key
from tests.support.databases import TemporarySchema
from tests.support.settings import AGENT_LEADS, AGENT_PHONE, TEST_SETTINGS
from tests.support.sms import SENT_BODIES, SmsPhone
from webapp.app import create_app
from webapp.conversation.lead_directories import forget_directories
from webapp.database import get_db

pytest_plugins = ["tests.support.twilio_fixtures"]


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


def _flush_test_redis(app: Flask) -> None:
    """Empty the test Redis database (never the developer's: tests use their own db number)."""
    redis = app.extensions.get("redis")
    if redis is not None:
        try:
            redis.flushdb()
        except Exception:  # Redis-less tests (parser, CLI) must still run
            pass


def _empty_tables(database: Database) -> None:
    with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def settings() -> dict:
    """Per-test overrides of the app's settings; tests and fixtures may add to it first."""
    return {}


@pytest.fixture
def app(database_url: str, settings: dict, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url, **settings})
    _empty_tables(get_db(app))
    _flush_test_redis(app)
    forget_directories()
    yield app
    _empty_tables(get_db(app))
    get_db(app).dispose()


@pytest.fixture
def db_session(app: Flask):
    with get_db(app).session() as session:
        yield session


@pytest.fixture
def cli(app: Flask):
    return app.test_cli_runner()


# --- Agents, signed Twilio webhooks, a real Celery worker ---------------------------------

@pytest.fixture
def agent(app: Flask):
    """An agent in Chicago with a handful of leads (two Johns, two Does)."""
    from db.models import Lead, User

    with get_db(app).session() as session:
        user = User(name="Alex Rivera", phone=AGENT_PHONE, timezone="America/Chicago")
        session.add(user)
        session.flush()
        for name, phone, status in AGENT_LEADS:
            session.add(Lead(agent_id=user.id, name=name, phone=phone, status=status))
        session.commit()
        return user


@pytest.fixture
def agent_id(agent) -> int:
    return agent.id


_E164 = re.compile(r"\+\d{8,15}")


@pytest.fixture(autouse=True)
def no_phone_or_body_in_info_logs(caplog: pytest.LogCaptureFixture):
    """Across the whole suite: what the production log handler would write at INFO and above
    holds no phone number and no message body (the web process and in-process workers alike)."""
    from webapp.ops.logs import make_handler

    caplog.set_level(logging.INFO)
    SENT_BODIES.clear()
    yield
    handler = make_handler(io.StringIO())
    leaks = []
    for record in caplog.get_records("setup") + caplog.get_records("call"):
        if record.levelno < logging.INFO or not all(f.filter(record) for f in handler.filters):
            continue
        line = handler.format(record)
        if _E164.search(line) or any(body in line for body in SENT_BODIES if len(body) >= 12):
            leaks.append(line)
    assert not leaks, "phone numbers or message bodies in INFO logs:\n" + "\n".join(leaks[:5])


@pytest.fixture
def api(app: Flask, agent) -> ApiClient:
    """The integration API, called with a key of the test agent's."""
    return ApiClient(app, new_key(app, agent.id))


@pytest.fixture
def phone(app: Flask, agent) -> SmsPhone:
    return SmsPhone(app, agent.phone)


@pytest.fixture
def celery_worker(app: Flask):
    """A real Celery worker (threads pool) consuming from the real test broker."""
    from celery.contrib.testing.worker import start_worker

    celery_app = app.extensions["celery"]
    with start_worker(celery_app, pool="threads", concurrency=2, perform_ping_check=False,
                      shutdown_timeout=20, loglevel="WARNING") as worker:
        yield worker



@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The migrated test database alone, emptied: for the domain code that needs neither Flask,
    Redis nor Celery (plan execution, reminders, answers)."""
    database = Database(database_url)
    _empty_tables(database)
    forget_directories()
    yield database
    _empty_tables(database)
    database.dispose()
