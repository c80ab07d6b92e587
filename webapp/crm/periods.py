"""The spans of time questions name ("this week", "last month", ...), in the agent's zone.

Weeks run Monday to Sunday, as in the spec; each span is [start, end) as aware instants, so
comparisons with stored UTC instants are exact across daylight-saving changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FOLLOW_UP_PERIODS: tuple[str, ...] = ("this_week", "next_week", "overdue", "upcoming")
STATS_PERIODS: tuple[str, ...] = ("this_week", "last_week", "this_month", "last_month",
                                  "this_year")


@dataclass(frozen=True)
class Span:
    start: datetime | None  # None: no lower bound
    end: datetime | None  # None: no upper bound (exclusive otherwise)
    first_day: date | None = None
    last_day: date | None = None  # inclusive, for labels


def midnight(d: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tzinfo=zone)


def day_span(d: date, zone: ZoneInfo) -> Span:
    return Span(midnight(d, zone), midnight(d + timedelta(days=1), zone), d, d)


def _days(first: date, last: date, zone: ZoneInfo) -> Span:
    return Span(midnight(first, zone), midnight(last + timedelta(days=1), zone), first, last)


def span(period: str, zone: ZoneInfo, now: datetime) -> Span:
    """The span `period` names, seen from `now`. Unknown periods raise ValueError."""
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    if period == "this_week":
        return _days(today, monday + timedelta(days=6), zone)  # today to Sunday
    if period == "next_week":
        return _days(monday + timedelta(days=7), monday + timedelta(days=13), zone)
    if period == "last_week":
        return _days(monday - timedelta(days=7), monday - timedelta(days=1), zone)
    if period == "this_month":
        first = today.replace(day=1)
        return _days(first, _month_end(first), zone)
    if period == "last_month":
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        return _days(first, _month_end(first), zone)
    if period == "this_year":
        return _days(date(today.year, 1, 1), date(today.year, 12, 31), zone)
    if period == "overdue":
        return Span(None, now)
    if period == "upcoming":
        return Span(now, None)
    raise ValueError(f"unknown period {period!r}")


def stats_span(period: str, zone: ZoneInfo, now: datetime) -> Span:
    """For stats, 'this week' is the whole week so far: Monday (not today) to now."""
    if period == "this_week":
        today = now.astimezone(zone).date()
        monday = today - timedelta(days=today.weekday())
        return _days(monday, monday + timedelta(days=6), zone)
    return span(period, zone, now)


def _month_end(first: date) -> date:
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)
