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
from tests.databases import TemporarySchema
from webapp import create_app, get_db
from webapp.conversation.lead_directories import forget_directories

pytest_plugins = ["tests.twilio_fixtures"]

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://localhost:6379/15")

TEST_SETTINGS = {
    "APP_ENV": "testing",
    "TESTING": True,
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "test-auth-token",
    "TWILIO_PHONE_NUMBER": "+13125550000",
    "PUBLIC_BASE_URL": "https://fieldline.test",
    "REDIS_URL": TEST_REDIS_URL,
    "RATE_LIMIT_PER_MINUTE": 1000,
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


def _flush_test_redis(app: Flask) -> None:
    """Empty the test Redis database (never the developer's: tests use their own db number)."""
    redis = app.extensions.get("redis")
    if redis is not None:
        try:
            redis.flushdb()
        except Exception:  # Redis-less tests (parser, CLI) must still run
            pass


def _empty_all_tables(app: Flask) -> None:
    with get_db(app).engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def settings() -> dict:
    """Per-test overrides of the app's settings; tests and fixtures may add to it first."""
    return {}


@pytest.fixture
def app(database_url: str, settings: dict, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url, **settings})
    _empty_all_tables(app)
    _flush_test_redis(app)
    forget_directories()
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


# --- Agents, signed Twilio webhooks, a real Celery worker ---------------------------------

AGENT_PHONE = "+13125550100"
AGENT_LEADS = [
    ("John Doe", "+13125550123", "contacted"),
    ("Jane Doe", "+13125550124", "new"),
    ("Sarah Smith", "+13125550125", "contacted"),
    ("John Smith", "+13125550126", "qualified"),
    ("Dana Cole", "+17735550127", "negotiating"),
]


@pytest.fixture
def agent(app: Flask):  # type: ignore[no-untyped-def]
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
def agent_id(agent) -> int:  # type: ignore[no-untyped-def]
    return agent.id


def rows(app: Flask, model: type) -> list:
    """Every row of `model` in insertion order, read in a fresh session."""
    from sqlalchemy import select

    with get_db(app).session() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def sign(app: Flask, path: str, params: dict[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send for a POST of `params` to `path`."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(app.config["TWILIO_AUTH_TOKEN"])
    return validator.compute_signature(app.config["PUBLIC_BASE_URL"] + path, params)


# Every body a test sends in as an agent: none may appear in an INFO-or-above log line.
SENT_BODIES: list[str] = []
_E164 = re.compile(r"\+\d{8,15}")


@pytest.fixture(autouse=True)
def no_phone_or_body_in_info_logs(caplog: pytest.LogCaptureFixture):  # type: ignore[no-untyped-def]
    """Across the whole suite: what the production log handler would write at INFO and above
    holds no phone number and no message body (the web process and in-process workers alike)."""
    from webapp.logging_setup import make_handler

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


class SmsPhone:
    """Sends signed inbound-SMS webhooks as one phone, as Twilio would."""

    def __init__(self, app: Flask, phone: str) -> None:
        self.app = app
        self.client = app.test_client()
        self.phone = phone
        self.count = 0

    def post(self, body: str, sid: str | None = None, **extra: str):  # type: ignore[no-untyped-def]
        self.count += 1
        SENT_BODIES.append(body)
        params = {
            "MessageSid": sid or f"SM{os.getpid():08x}{self.count:024x}",
            "AccountSid": self.app.config["TWILIO_ACCOUNT_SID"],
            "From": self.phone,
            "To": self.app.config["TWILIO_PHONE_NUMBER"],
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        return self.client.post(
            "/sms", data=params, headers={"X-Twilio-Signature": sign(self.app, "/sms", params)}
        )

    def text(self, body: str, **extra: str) -> str | None:
        """Send `body`; return the TwiML reply's message text (None for an empty reply)."""
        response = self.post(body, **extra)
        assert response.status_code == 200, response.data
        return twiml_message(response.data)


def twiml_message(data: bytes) -> str | None:
    """The text of the single <Message> in a TwiML <Response>, checked as XML."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(data)
    assert root.tag == "Response"
    messages = root.findall("Message")
    assert len(messages) <= 1
    return messages[0].text if messages else None


@pytest.fixture
def phone(app: Flask, agent) -> SmsPhone:  # type: ignore[no-untyped-def]
    return SmsPhone(app, agent.phone)


@pytest.fixture
def celery_worker(app: Flask):  # type: ignore[no-untyped-def]
    """A real Celery worker (threads pool) consuming from the real test broker."""
    from celery.contrib.testing.worker import start_worker

    celery_app = app.extensions["celery"]
    with start_worker(celery_app, pool="threads", concurrency=2, perform_ping_check=False,
                      shutdown_timeout=20, loglevel="WARNING") as worker:
        yield worker


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
