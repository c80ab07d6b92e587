"""Engine and session handling, and a unit of work that rolls back unless committed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """Create an engine with the per-backend settings the app relies on."""
    if url.startswith("sqlite"):
        # Web, worker and beat share one SQLite file locally: wait for locks instead of failing.
        engine = create_engine(url, connect_args={"timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """One engine and its session factory; held by the Flask app (and so by the workers)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit explicitly inside the block; anything else is rolled back."""
        session = self.sessionmaker()
        try:
            yield session
        finally:
            session.close()  # rolls back whatever was not committed

    def dispose(self) -> None:
        self.engine.dispose()
