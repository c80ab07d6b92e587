"""Engine and session handling, and a unit of work that rolls back unless committed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, func, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement


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
    # No pre-ping: it costs a round trip on every checkout of every request. A connection the
    # server dropped fails one request (the webhook answers "try again", tasks retry) and
    # SQLAlchemy then invalidates the pool; pool_recycle retires connections before typical
    # server/proxy idle timeouts.
    return create_engine(url, pool_recycle=1800, pool_size=10, max_overflow=10)


def relax_durability(session: Session) -> None:
    """For rows that are only a log (webhook turns): on PostgreSQL, commit this transaction
    without waiting for the WAL flush. A crash could lose the last few such rows, never a
    confirmed plan: those are committed in their own, fully durable transactions."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def relaxed_commit() -> ColumnElement[str]:
    """The single-statement form of `relax_durability`, for PostgreSQL: put it in the RETURNING
    list of a write run on `Database.log_writer()`. `set_config(..., is_local => true)` is
    `SET LOCAL`: it holds until the end of the statement's own (implicit) transaction, whose
    commit then does not wait for the WAL flush. Same trade-off as `relax_durability`."""
    return func.set_config("synchronous_commit", "off", True)


class Database:
    """One engine and its session factory; held by the Flask app (and so by the workers)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.is_postgresql = self.engine.dialect.name == "postgresql"
        # A pool of its own, always in autocommit (each statement is its own transaction: no
        # BEGIN and COMMIT round trips), so checkouts need no switching back and forth. Sized
        # like the main pool: a smaller one makes threaded workers open and close overflow
        # connections per request.
        self._autocommit = (
            create_engine(url, isolation_level="AUTOCOMMIT", pool_recycle=1800, pool_size=10,
                          max_overflow=10)
            if self.is_postgresql else None
        )

    @contextmanager
    def log_writer(self) -> Iterator[Connection]:
        """A connection for one-statement writes of log rows (webhook turns), each committed on
        its own when it succeeds. On PostgreSQL it is in autocommit mode, so a write costs one
        round trip (add `relaxed_commit()` to its RETURNING); elsewhere it is one transaction,
        committed at the end of the block (SQLite has no data-modifying CTEs anyway)."""
        if self._autocommit is not None:
            with self._autocommit.connect() as connection:
                yield connection
        else:
            with self.engine.begin() as connection:
                yield connection

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
        if self._autocommit is not None:
            self._autocommit.dispose()
