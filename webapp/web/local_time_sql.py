"""Instants as the agent's local dates and weeks, computed inside the database.

Reports group tens of thousands of rows by local day or week; doing it in SQL returns a few
hundred rows instead of every instant. PostgreSQL converts with the agent's IANA zone (exact
across daylight-saving changes). SQLite has no time zones: it shifts by the zone's offset at
`now`, which can put an instant within an hour of midnight on a DST change into the next or
previous day. SQLite is the local development database; production is PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime, bindparam, cast, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement


def _sqlite_shift(zone: ZoneInfo, now: datetime) -> str:
    offset = now.astimezone(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return f"{minutes:+d} minutes"


def local_date(column: ColumnElement, dialect: str, zone: ZoneInfo,
               now: datetime) -> ColumnElement:
    """The local calendar date of `column` (an instant)."""
    if dialect == "postgresql":
        return cast(func.timezone(zone.key, column), Date)
    return func.date(column, _sqlite_shift(zone, now))


def local_week(column: ColumnElement, dialect: str, zone: ZoneInfo,
               now: datetime) -> ColumnElement:
    """The Monday (a local date) of the week `column` falls in."""
    if dialect == "postgresql":
        return cast(func.date_trunc("week", func.timezone(zone.key, column)), Date)
    return func.date(column, _sqlite_shift(zone, now), "-6 days", "weekday 1")


def week_number(column: ColumnElement, weeks: list[date], zone: ZoneInfo) -> ColumnElement:
    """PostgreSQL only: which of `weeks` (local Mondays, ascending) `column` falls in, 1 for the
    first; 0 before it. `width_bucket` over the weeks' first instants finds it by a binary
    search on the stored instant, so tens of thousands of rows need no zone conversion each."""
    starts = [datetime.combine(monday, time(0), tzinfo=zone) for monday in weeks]
    return func.width_bucket(column, bindparam(
        "week_starts", starts, type_=ARRAY(DateTime(timezone=True))))


def as_date(value: date | str) -> date:
    """A date from either backend (SQLite answers with 'YYYY-MM-DD')."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(value)
