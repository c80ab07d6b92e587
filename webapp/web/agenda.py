"""The agenda page: open follow-ups that are overdue, due today, and due in the next 7 days,
days counted in the agent's own zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Appointment, Lead

DAYS_AHEAD = 7
MAX_OVERDUE = 50  # the oldest beyond this are counted, not listed


@dataclass
class Item:
    appointment_id: int
    lead_id: int
    lead: str
    title: str
    due_at: datetime


@dataclass
class Agenda:
    overdue: list[Item]
    overdue_count: int
    today: list[Item]
    days: list[tuple[date, list[Item]]] = field(default_factory=list)  # the next 7 days


def agenda(session: Session, agent_id: int, zone: ZoneInfo, now: datetime) -> Agenda:
    today = now.astimezone(zone).date()
    start_tomorrow = datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=DAYS_AHEAD + 1), time(0), tzinfo=zone)
    open_ = (Appointment.agent_id == agent_id, Appointment.state == "scheduled")
    columns = (Appointment.id, Appointment.lead_id, Lead.name, Appointment.title,
               Appointment.due_at)
    overdue_count = session.scalar(
        select(func.count()).select_from(Appointment).where(*open_, Appointment.due_at < now)
    ) or 0
    overdue = session.execute(
        select(*columns).join(Lead, Lead.id == Appointment.lead_id)
        .where(*open_, Appointment.due_at < now)
        .order_by(Appointment.due_at.desc()).limit(MAX_OVERDUE)
    ).all()
    coming = session.execute(
        select(*columns).join(Lead, Lead.id == Appointment.lead_id)
        .where(*open_, Appointment.due_at >= now, Appointment.due_at < end)
        .order_by(Appointment.due_at, Appointment.id)
    ).all()
    result = Agenda([Item(*row) for row in overdue], overdue_count, [])
    later: dict[date, list[Item]] = {}
    for row in coming:
        item = Item(*row)
        if item.due_at < start_tomorrow:
            result.today.append(item)
        else:
            later.setdefault(item.due_at.astimezone(zone).date(), []).append(item)
    result.days = sorted(later.items())
    return result
