"""Engine and session handling, and a unit of work that rolls back unless committed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, func, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import ColumnElement

# A database error's message lists the statement's parameters (an agent's phone, a message's
# body); it reaches tracebacks in the logs. Every engine hides them (webapp.ops.logs masks what
# the database itself quotes).
HIDE_PARAMETERS = True


def make_engine(url: str) -> Engine:
    """Create an engine with the per-backend settings the app relies on."""
    if url.startswith("sqlite"):
        # Web, worker and beat share one SQLite file locally: wait for locks instead of failing.
        engine = create_engine(url, connect_args={"timeout": 15},
                               hide_parameters=HIDE_PARAMETERS)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
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
    return create_engine(url, pool_recycle=1800, pool_size=10, max_overflow=10,
                         hide_parameters=HIDE_PARAMETERS)


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
                          max_overflow=10, hide_parameters=HIDE_PARAMETERS,
                          pool_reset_on_return=None)  # in autocommit there is nothing to undo
            if self.is_postgresql else None
        )
        self._compiled: dict[int, tuple[Executable, str, dict[str, Any]]] = {}
        self._column_names: dict[str, list[str]] = {}

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
    def one_statement(self) -> Iterator[Connection]:
        """A connection for reads that are one statement each (an API key's lookup, a page of
        a list): on PostgreSQL in autocommit, so a read costs its one round trip and no
        BEGIN/ROLLBACK around it; elsewhere one transaction (the same as `log_writer`)."""
        with self.log_writer() as connection:
            yield connection

    def write_log_row(self, statement: Executable, params: Mapping[str, Any]
                      ) -> dict[str, Any] | None:
        """PostgreSQL only: run one log-row write (a webhook turn's `messages` row) in
        autocommit and return its first row as a dict (None when it returns none).

        Why not `log_writer()`: the SMS webhook writes two such rows per turn, and SQLAlchemy's
        per-execution machinery costs more CPU than the driver's own work (0.18 vs 0.08 ms per
        insert, measured; bench/sms_load.py is CPU-bound on its 2 cores). So the statement is
        compiled once, from the same Core construct, and run straight on the psycopg connection
        of a pooled autocommit connection. Driver errors come back as SQLAlchemy's (a duplicate
        is still an `IntegrityError`); a dropped connection is invalidated, as SQLAlchemy does.
        Timestamps read back are UTC-aware, as `UTCDateTime` promises.
        """
        if self._autocommit is None:
            raise RuntimeError("write_log_row is for PostgreSQL; use log_writer() elsewhere")
        return self._run_on_driver(statement, params)

    def fetch_row(self, statement: Executable, params: Mapping[str, Any]
                  ) -> dict[str, Any] | None:
        """PostgreSQL only: run one read-only statement the way `write_log_row` runs a write (in
        autocommit, straight on the driver: one round trip, no BEGIN or ROLLBACK) and return its
        first row as a dict, or None. For a check a webhook makes on most requests (whether an
        agent's leads changed), where a session's transaction would triple the round trips."""
        if self._autocommit is None:
            raise RuntimeError("fetch_row is for PostgreSQL; use a session elsewhere")
        return self._run_on_driver(statement, params)

    def _run_on_driver(self, statement: Executable, params: Mapping[str, Any]
                       ) -> dict[str, Any] | None:
        sql, defaults = self._driver_statement(statement)
        values = {**defaults, **params}
        raw = self._autocommit.raw_connection()
        try:
            connection = raw.driver_connection
            try:
                with connection.cursor() as cursor:
                    cursor.execute(sql, values)
                    result = cursor.pgresult
                    row = cursor.fetchone() if result is not None and result.nfields else None
                    # A statement's columns never change: named once (building the driver's
                    # description per call cost more than the insert's own Python work).
                    names = self._column_names.get(sql)
                    if names is None and row is not None:
                        names = [column.name for column in cursor.description or ()]
                        self._column_names[sql] = names
            except connection.Error as error:
                dialect = self._autocommit.dialect
                invalidated = dialect.is_disconnect(error, connection, None)
                if invalidated:
                    raw.invalidate(error)
                raise exc.DBAPIError.instance(
                    sql, values, error, type(connection).Error, hide_parameters=HIDE_PARAMETERS,
                    connection_invalidated=invalidated, dialect=dialect,
                ) from error
        finally:
            raw.close()
        if row is None or names is None:
            return None
        return {
            name: value.astimezone(UTC) if isinstance(value, datetime) else value
            for name, value in zip(names, row, strict=True)
        }

    def _driver_statement(self, statement: Executable) -> tuple[str, dict[str, Any]]:
        """`statement` as the driver's SQL text and its literal parameters, compiled once."""
        cached = self._compiled.get(id(statement))
        if cached is None or cached[0] is not statement:
            assert self._autocommit is not None
            compiled = statement.compile(dialect=self._autocommit.dialect)
            required = {bind.key: None for bind in compiled.binds.values() if bind.required}
            defaults = {k: v for k, v in compiled.construct_params(required).items()
                        if k not in required}
            cached = (statement, compiled.string, defaults)
            self._compiled[id(statement)] = cached
        return cached[1], cached[2]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commit explicitly inside the block; anything else is rolled back."""
        session = self.sessionmaker()
        try:
            yield session
        finally:
            session.close()  # rolls back whatever was not committed

    def after_fork(self) -> None:
        """In a forked child: drop the pooled connections inherited from the parent without
        closing them (they are still the parent's); the child opens its own."""
        self.engine.dispose(close=False)
        if self._autocommit is not None:
            self._autocommit.dispose(close=False)

    def warm_up(self) -> None:
        """Open one connection in each pool now (a forked web worker, before its first
        request), so no client waits for a connection to be made."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        if self._autocommit is not None:
            with self._autocommit.connect() as connection:
                connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._autocommit is not None:
            self._autocommit.dispose()
