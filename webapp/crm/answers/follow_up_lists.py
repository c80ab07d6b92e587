"""Answers that list open follow-ups: one day's agenda, and follow-ups by period or lead.

Only what a text can show is read: a count, and the first LIST_LIMIT rows in due order, through
the partial index of open follow-ups (agent, due time), however many thousands there are.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ScalarSelect, func, literal, select
from sqlalchemy.orm import Session

from db.models import Appointment, Lead
from webapp.crm.answers.leads import NOT_FOUND, own_lead
from webapp.crm.answers.shape import SEGMENTS, Answer
from webapp.crm.periods import FOLLOW_UP_PERIODS, day_span, span
from webapp.crm.sms_budget import listed
from webapp.crm.wording import clock, day, day_short, due, purpose

LIST_LIMIT = 30  # more than two segments can ever show


def _open_follow_ups(agent_id: int, start: datetime | None, end: datetime | None,
                     lead_id: int | None = None) -> list:
    """The conditions picking the agent's open follow-ups due in [start, end)."""
    where = [Appointment.agent_id == agent_id, Appointment.state == "scheduled"]
    if lead_id is not None:
        where.append(Appointment.lead_id == lead_id)
    if start is not None:
        where.append(Appointment.due_at >= start)
    if end is not None:
        where.append(Appointment.due_at < end)
    return where


def _count(where: list) -> ScalarSelect:
    """How many there are, from the partial index of open follow-ups alone."""
    return select(func.count()).select_from(Appointment).where(*where).scalar_subquery()


def _first(session: Session, where: list) -> list:
    """The first LIST_LIMIT in due order, with their lead's name."""
    return session.execute(
        select(Appointment.title, Appointment.due_at, Lead.name)
        .join(Lead, Lead.id == Appointment.lead_id)
        .where(*where)
        .order_by(Appointment.due_at, Appointment.id)
        .limit(LIST_LIMIT)
    ).all()


def _follow_ups(n: int) -> str:
    return "1 follow-up" if n == 1 else f"{n} follow-ups"


def _item(when: str, name: str | None, title: str, lead_name: str) -> str:
    what = purpose(title, lead_name)
    if name is None:  # the question named the lead
        return f"{when}: {what or 'follow up'}"
    return f"{when} {name}: {what}" if what else f"{when} {name}"


def agenda(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
           day_said: str | None = None, lead_in: str = "", tail: str = "",
           segments: int = SEGMENTS) -> Answer:
    """The open follow-ups due on one day (default today, in the agent's zone) and, for
    today, the overdue ones. `lead_in` starts the text (the morning agenda's greeting) and
    `tail` (its nudges, on a line of their own) ends it, within `segments`."""
    today = now.astimezone(zone).date()
    try:
        the_day = date.fromisoformat(day_said) if day_said else today
    except (TypeError, ValueError):
        return Answer("Which day? e.g. \"agenda for Friday\".")
    label = "today" if the_day == today else day(the_day, today)
    bounds = day_span(the_day, zone)
    on_the_day = _open_follow_ups(agent_id, bounds.start, bounds.end)
    before = _open_follow_ups(agent_id, None, bounds.start) if the_day == today else None
    count, overdue_count = session.execute(select(
        _count(on_the_day), _count(before) if before is not None else literal(0))).one()
    rows = _first(session, on_the_day) if count else []
    overdue = _first(session, before) if before is not None and overdue_count else []
    after = f"\n{tail}" if tail else ""
    if not count and not overdue_count:
        return Answer(f"{lead_in}Nothing on your agenda {label}.{after}")
    parts = [_follow_ups(count)] if count else []
    if overdue_count:
        parts.append(f"{overdue_count} overdue")
    head = f"Agenda {label}: {', '.join(parts)}."
    items = [_item(clock(due_at.astimezone(zone)), name, title, name)
             for title, due_at, name in rows]
    items += [_item(f"{day_short(due_at.astimezone(zone).date(), today)} (overdue)", name,
                    title, name) for title, due_at, name in overdue]
    total = count + overdue_count
    text = listed(f"{lead_in}{head}\n", items, segments, total=total, tail=after)
    return Answer(text, head=head, items=tuple(items), more=total - len(items))


def agenda_text(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
                day_said: str | None = None, lead_in: str = "", tail: str = "",
                segments: int = SEGMENTS) -> str:
    return agenda(session, agent_id, zone, now, day_said, lead_in, tail, segments).text


_HEADS = {  # period -> (how many, with the lead) -> head; and what to say for none
    "this_week": ("{n} this week{lead}:", "No follow-ups this week{lead}."),
    "next_week": ("{n} next week{lead}:", "No follow-ups next week{lead}."),
    "overdue": ("{n} overdue{lead}:", "No overdue follow-ups{lead}."),
    "upcoming": ("{n} coming up{lead}:", "No follow-ups coming up{lead}."),
}


def follow_ups(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
               lead_id: object = None, period: str | None = None) -> Answer:
    """Open follow-ups in `period` (default upcoming), earliest first, for one lead or all."""
    period = period or "upcoming"
    if period not in FOLLOW_UP_PERIODS:
        return Answer("I can list follow-ups this week, next week, overdue or coming up.")
    lead = None
    if lead_id is not None:
        lead = own_lead(session, agent_id, lead_id)
        if lead is None:
            return Answer(NOT_FOUND)
    bounds = span(period, zone, now)
    where = _open_follow_ups(agent_id, bounds.start, bounds.end, lead.id if lead else None)
    count = session.scalar(select(_count(where)))
    rows = _first(session, where) if count else []
    with_lead = f" with {lead.name}" if lead else ""
    some, none = _HEADS[period]
    if not count:
        return Answer(none.format(lead=with_lead))
    head = some.format(n=_follow_ups(count), lead=with_lead)
    items = [_item(due(due_at, zone, now), None if lead else name, title, name)
             for title, due_at, name in rows]
    text = listed(head + "\n", items, SEGMENTS, total=count)
    return Answer(text, head=head.rstrip(":") + ".", items=tuple(items),
                  more=count - len(items))
