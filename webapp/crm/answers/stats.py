"""How a period went: leads added, won and lost, interactions by type, follow-ups done and
missed. Counts only, each one aggregate query over an indexed (agent, time) range."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ScalarSelect, Select, func, select
from sqlalchemy.orm import Session

from db.models import Appointment, ClientInteraction, Lead, LeadHistory
from db.vocabulary import INTERACTION_TYPES
from webapp.crm.answers.shape import SEGMENTS, Answer
from webapp.crm.periods import STATS_PERIODS, stats_span
from webapp.crm.sms_budget import cut
from webapp.crm.wording import day_short

_PLURALS = {"call": "calls", "meeting": "meetings", "viewing": "viewings", "email": "emails",
            "text": "texts", "note": "notes"}


def _counted(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _label(period: str, first: object, last: object, today: object) -> str:
    if period == "last_week":
        return f"Last week ({day_short(first, today)}-{day_short(last, today)})"
    if period == "last_month":
        return f"Last month ({first:%B})"
    return {"this_week": "This week", "this_month": "This month",
            "this_year": "This year"}[period]


def _won_or_lost(agent_id: int, status: str, start: datetime, end: datetime) -> ScalarSelect:
    """Leads moved to `status` in [start, end) and still there: a win undone, or a lead
    reopened since, is not a win."""
    return (select(func.count(func.distinct(LeadHistory.lead_id)))
            .join(Lead, Lead.id == LeadHistory.lead_id)
            .where(LeadHistory.agent_id == agent_id, LeadHistory.new_status == status,
                   LeadHistory.changed_at >= start, LeadHistory.changed_at < end,
                   Lead.agent_id == agent_id, Lead.status == status)
            .scalar_subquery())


def _counts(agent_id: int, start: datetime, end: datetime) -> Select:
    """Leads added, won, lost, follow-ups done and missed in [start, end): one statement of
    five scalar subqueries, each an index range (see migration 0008)."""
    added = (select(func.count()).select_from(Lead)
             .where(Lead.agent_id == agent_id, Lead.created_at >= start, Lead.created_at < end)
             .scalar_subquery())
    done = (select(func.count()).select_from(Appointment).where(
        Appointment.agent_id == agent_id, Appointment.state == "done",
        Appointment.completed_at >= start, Appointment.completed_at < end)
        .scalar_subquery())
    # Done before completed_at existed: when the row last changed is the best guess. Counted
    # apart, so the count above stays an index-only scan.
    done_before = (select(func.count()).select_from(Appointment).where(
        Appointment.agent_id == agent_id, Appointment.state == "done",
        Appointment.completed_at.is_(None),
        Appointment.updated_at >= start, Appointment.updated_at < end)
        .scalar_subquery())
    missed = (select(func.count()).select_from(Appointment).where(
        Appointment.agent_id == agent_id, Appointment.state == "scheduled",
        Appointment.due_at >= start, Appointment.due_at < end)
        .scalar_subquery())
    return select(added, _won_or_lost(agent_id, "closed_won", start, end),
                  _won_or_lost(agent_id, "closed_lost", start, end), done + done_before,
                  missed)


def stats(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
          period: str | None = None) -> Answer:
    period = period or "this_month"
    if period not in STATS_PERIODS:
        return Answer("I can count this week, last week, this month, last month or this year.")
    bounds = stats_span(period, zone, now)
    start = bounds.start
    end = min(bounds.end, now)  # what has happened so far
    assert start is not None and end is not None
    today = now.astimezone(zone).date()
    label = _label(period, bounds.first_day, bounds.last_day, today)

    added, won, lost, done, missed = session.execute(_counts(agent_id, start, end)).one()
    by_type = dict(session.execute(
        select(ClientInteraction.type, func.count())
        .where(ClientInteraction.agent_id == agent_id,
               ClientInteraction.occurred_at >= start, ClientInteraction.occurred_at < end)
        .group_by(ClientInteraction.type)
    ).all())

    head = f"{label}: {_counted(added, 'lead', 'leads')} added, {won} won, {lost} lost."
    interactions = sum(by_type.values())
    if interactions:
        kinds = ", ".join(_counted(by_type[t], t, _PLURALS[t])
                          for t in INTERACTION_TYPES if by_type.get(t))
        said = f"{_counted(interactions, 'interaction', 'interactions')}: {kinds}."
    else:
        said = "No interactions logged."
    follow_ups = f"Follow-ups: {done} done, {missed} missed."
    text = cut(" ".join((head, said, follow_ups)), SEGMENTS)
    return Answer(text, head=head, items=(said, follow_ups))
