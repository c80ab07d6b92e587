"""`Database.write_log_row`: the webhook's log rows written straight on the PostgreSQL driver.

It skips SQLAlchemy's execution machinery for speed, so these pin what callers still rely on
from SQLAlchemy: its exception types, connection invalidation, and UTC-aware timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from db import migrate
from db.models import Message, User
from db.session import Database

_INSERT = insert(Message).values(
    provider_sid=bindparam("sid"), direction="inbound", channel="sms", phone="+13125550100",
    body=bindparam("body"), status="received", created_at=bindparam("now"),
    updated_at=bindparam("now"),
).returning(Message.id, Message.status, Message.created_at)


@pytest.fixture
def db(postgresql_url: str):
    migrate.upgrade(postgresql_url)
    database = Database(postgresql_url)
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM messages"))
    yield database
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM messages"))
    database.dispose()


def test_returns_the_first_row_with_literal_values_and_utc_timestamps(db: Database) -> None:
    chicago_noon = datetime(2026, 11, 26, 12, 0, tzinfo=timezone(timedelta(hours=-6)))

    row = db.write_log_row(_INSERT, {"sid": "SM1", "body": "hello", "now": chicago_noon})

    assert row is not None and row["status"] == "received"
    assert row["created_at"] == chicago_noon and row["created_at"].tzinfo == UTC
    with db.session() as session:
        stored = session.scalars(select(Message).where(Message.id == row["id"])).one()
    assert (stored.provider_sid, stored.body, stored.direction) == ("SM1", "hello", "inbound")


def test_a_duplicate_is_sqlalchemys_integrity_error_and_commits_nothing(db: Database) -> None:
    now = datetime.now(UTC)
    db.write_log_row(_INSERT, {"sid": "SM2", "body": "first", "now": now})

    with pytest.raises(IntegrityError):
        db.write_log_row(_INSERT, {"sid": "SM2", "body": "second", "now": now})

    with db.session() as session:
        assert session.scalars(select(Message.body)).all() == ["first"]


def test_a_connection_the_server_dropped_is_invalidated_and_the_next_write_works(
        db: Database) -> None:
    now = datetime.now(UTC)
    db.write_log_row(_INSERT, {"sid": "SM3", "body": "before", "now": now})
    pooled = db._autocommit.raw_connection()  # the one idle connection the write left pooled
    backend = pooled.driver_connection.info.backend_pid
    pooled.close()
    with db.engine.begin() as connection:  # the server ends that backend, as a restart would
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})

    with pytest.raises(DBAPIError) as raised:
        db.write_log_row(_INSERT, {"sid": "SM4", "body": "lost", "now": now})
    assert raised.value.connection_invalidated

    assert db.write_log_row(_INSERT, {"sid": "SM5", "body": "after", "now": now}) is not None


def test_refused_on_sqlite(tmp_path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with pytest.raises(RuntimeError):
        database.write_log_row(select(User.id), {})
    database.dispose()
