"""The figures of /app/reports, for one agent and one period, each computed in the database.

* **Leads by status**: leads added in the period, by their status now, in the pipeline's order.
* **Won and lost per month**: leads whose status is closed_won (closed_lost) now, counted in the
  month they last moved there; a win that was undone is not a win.
* **Interactions per week by type**: grouped by local week and type inside the database.
* **Follow-up compliance**: follow-ups due in the period (cancelled ones aside): done on time
  (by the end of the day they were due), done late, or missed (still open after their day).
* **Speed to lead**: for leads added in the period, the time from the lead's creation to its
  first contact (any interaction but a note); the median, and how many within an hour, a day,
  a week, later, or not yet.

Periods are read in the agent's zone: this month, last month, the last 90 days, this year.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from db.models import Appointment, ClientInteraction, Lead, LeadHistory
from db.vocabulary import INTERACTION_TYPES, STATUSES
from webapp.web.local_time_sql import as_date, local_date, local_week, week_number

PERIODS: dict[str, str] = {
    "this_month": "This month",
    "last_month": "Last month",
    "last_90_days": "Last 90 days",
    "this_year": "This year",
}
DEFAULT_PERIOD = "last_90_days"
SPEED_BUCKETS = ("Within 1 hour", "1 to 24 hours", "1 to 7 days", "Over 7 days")
_BUCKET_LIMITS = (3600, 86400, 7 * 86400)


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware (now, for periods that run to today)

    def months(self, zone: ZoneInfo) -> list[date]:
        """The first day of every local month the period touches."""
        first = self.start.astimezone(zone).date().replace(day=1)
        last = (self.end - timedelta(microseconds=1)).astimezone(zone).date()
        months = []
        while first <= last:
            months.append(first)
            first = (first + timedelta(days=32)).replace(day=1)
        return months

    def weeks(self, zone: ZoneInfo) -> list[date]:
        """The Monday of every local week the period touches."""
        first = self.start.astimezone(zone).date()
        first -= timedelta(days=first.weekday())
        last = (self.end - timedelta(microseconds=1)).astimezone(zone).date()
        weeks = []
        while first <= last:
            weeks.append(first)
            first += timedelta(days=7)
        return weeks


def period(key: str | None, zone: ZoneInfo, now: datetime) -> Period:
    """The period `key` names (an unknown key means the default) as instants."""
    key = key if key in PERIODS else DEFAULT_PERIOD
    today = now.astimezone(zone).date()

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone)

    this_month = today.replace(day=1)
    if key == "this_month":
        start, end = midnight(this_month), now
    elif key == "last_month":
        start = midnight((this_month - timedelta(days=1)).replace(day=1))
        end = midnight(this_month)
    elif key == "this_year":
        start, end = midnight(today.replace(month=1, day=1)), now
    else:
        start, end = midnight(today - timedelta(days=89)), now
    return Period(key, PERIODS[key], start, end)


@dataclass
class Compliance:
    on_time: int = 0
    late: int = 0
    missed: int = 0

    @property
    def total(self) -> int:
        return self.on_time + self.late + self.missed


@dataclass
class SpeedToLead:
    median_seconds: float | None
    buckets: list[tuple[str, int]]
    not_contacted: int
    leads: int


@dataclass
class Report:
    period: Period
    by_status: list[tuple[str, int]]
    months: list[tuple[date, int, int]]  # (month, won, lost)
    weeks: list[tuple[date, dict[str, int]]]  # (Monday, {type: count})
    compliance: Compliance
    speed: SpeedToLead
    first_day: date  # the period's first and last local day, for its heading
    last_day: date
    interaction_types: tuple[str, ...] = field(default=INTERACTION_TYPES)


def report(session: Session, agent_id: int, period_key: str | None, zone: ZoneInfo,
           now: datetime) -> Report:
    chosen = period(period_key, zone, now)
    dialect = session.get_bind().dialect.name
    return Report(
        period=chosen,
        by_status=leads_by_status(session, agent_id, chosen),
        months=won_and_lost(session, agent_id, chosen, zone),
        weeks=interactions_per_week(session, agent_id, chosen, zone, now, dialect),
        compliance=follow_up_compliance(session, agent_id, chosen, zone, now, dialect),
        speed=speed_to_lead(session, agent_id, chosen, dialect),
        first_day=chosen.start.astimezone(zone).date(),
        last_day=(chosen.end - timedelta(microseconds=1)).astimezone(zone).date(),
    )


def leads_by_status(session: Session, agent_id: int, chosen: Period) -> list[tuple[str, int]]:
    counts = dict(session.execute(
        select(Lead.status, func.count())
        .where(Lead.agent_id == agent_id, Lead.created_at >= chosen.start,
               Lead.created_at < chosen.end)
        .group_by(Lead.status)
    ).all())
    return [(status, counts.get(status, 0)) for status in STATUSES]


def won_and_lost(session: Session, agent_id: int, chosen: Period,
                 zone: ZoneInfo) -> list[tuple[date, int, int]]:
    """Per local month: leads won, leads lost (see the module's doc for what counts).

    Read from the closed leads (ix_leads_agent_id_status), each with the last time it moved to
    its status now (lead_history by lead), so the cost follows the agent's closed leads, not
    the whole history table."""
    moved = (
        select(func.max(LeadHistory.changed_at))
        .where(LeadHistory.lead_id == Lead.id, LeadHistory.new_status == Lead.status)
        .correlate(Lead)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Lead.status, moved)
        .where(Lead.agent_id == agent_id, Lead.status.in_(("closed_won", "closed_lost")))
    ).all()
    tally = {month: [0, 0] for month in chosen.months(zone)}
    for status, at in rows:
        if at is None or not chosen.start <= at < chosen.end:
            continue
        month = at.astimezone(zone).date().replace(day=1)
        if month in tally:
            tally[month][0 if status == "closed_won" else 1] += 1
    return [(month, won, lost) for month, (won, lost) in tally.items()]


def interactions_per_week(session: Session, agent_id: int, chosen: Period, zone: ZoneInfo,
                          now: datetime, dialect: str) -> list[tuple[date, dict[str, int]]]:
    """Counted inside the database by week and type. On PostgreSQL an index-only read of
    (agent_id, occurred_at, type) and a week number by binary search (`week_number`); SQLite
    shifts each instant to a local Monday instead."""
    mondays = chosen.weeks(zone)
    if dialect == "postgresql":
        week = week_number(ClientInteraction.occurred_at, mondays, zone).label("week")
    else:
        week = local_week(ClientInteraction.occurred_at, dialect, zone, now).label("week")
    rows = session.execute(
        select(week, ClientInteraction.type, func.count())
        .where(ClientInteraction.agent_id == agent_id,
               ClientInteraction.occurred_at >= chosen.start,
               ClientInteraction.occurred_at < chosen.end)
        .group_by(week, ClientInteraction.type)
    ).all()
    weeks = {monday: dict.fromkeys(INTERACTION_TYPES, 0) for monday in mondays}
    for bucket, kind, count in rows:
        if isinstance(bucket, int):
            monday = mondays[bucket - 1] if 1 <= bucket <= len(mondays) else None
        else:
            monday = as_date(bucket)
        if monday in weeks and kind in weeks[monday]:
            weeks[monday][kind] += count
    return list(weeks.items())


def follow_up_compliance(session: Session, agent_id: int, chosen: Period, zone: ZoneInfo,
                         now: datetime, dialect: str) -> Compliance:
    today = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    on_time = and_(Appointment.state == "done",
                   local_date(Appointment.completed_at, dialect, zone, now)
                   <= local_date(Appointment.due_at, dialect, zone, now))
    outcome = case(
        (on_time, "on_time"),
        (Appointment.state == "done", "late"),
        else_="missed",
    ).label("outcome")
    rows = session.execute(
        select(outcome, func.count())
        .where(Appointment.agent_id == agent_id, Appointment.due_at >= chosen.start,
               Appointment.due_at < chosen.end,
               # an open follow-up is missed only once its day is over
               ((Appointment.state == "done")
                | ((Appointment.state == "scheduled") & (Appointment.due_at < today))))
        .group_by(outcome)
    ).all()
    counts = dict(rows)
    return Compliance(counts.get("on_time", 0), counts.get("late", 0), counts.get("missed", 0))


def speed_to_lead(session: Session, agent_id: int, chosen: Period, dialect: str) -> SpeedToLead:
    """Each new lead's first contact is found through its own interactions in time order
    (ix_client_interactions_lead_id_occurred_at): one short index read per lead added in the
    period, not an aggregate over every interaction of the agent."""
    first_at = (
        select(func.min(ClientInteraction.occurred_at))
        .where(ClientInteraction.lead_id == Lead.id, ClientInteraction.type != "note")
        .correlate(Lead)
        .scalar_subquery()
    )
    if dialect == "postgresql":
        seconds = func.extract("epoch", first_at - Lead.created_at)
    else:
        seconds = (func.julianday(first_at) - func.julianday(Lead.created_at)) * 86400.0
    rows = session.execute(
        select(seconds)
        .where(Lead.agent_id == agent_id, Lead.created_at >= chosen.start,
               Lead.created_at < chosen.end)
    ).scalars().all()
    waits = sorted(max(0.0, float(value)) for value in rows if value is not None)
    counts = [0] * len(SPEED_BUCKETS)
    for wait in waits:
        place = next((i for i, limit in enumerate(_BUCKET_LIMITS) if wait < limit),
                     len(_BUCKET_LIMITS))
        counts[place] += 1
    return SpeedToLead(
        median_seconds=statistics.median(waits) if waits else None,
        buckets=list(zip(SPEED_BUCKETS, counts, strict=True)),
        not_contacted=len(rows) - len(waits),
        leads=len(rows),
    )
