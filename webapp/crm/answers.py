"""Read-only questions answered at once from the agent's own data (kind `query`)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Appointment, Lead
from db.vocabulary import STATUSES

MAX_LISTED = 8


def answer_query(session: Session, agent_id: int, query: dict, zone: ZoneInfo,
                 now: datetime) -> str:
    kind = query.get("type")
    if kind == "lead_status":
        lead = session.get(Lead, query.get("lead_id"))
        if lead is None or lead.agent_id != agent_id:
            return "I couldn't find that lead."
        contacted = ""
        if lead.last_contacted:
            contacted = f" Last contacted {_day(lead.last_contacted.astimezone(zone), now)}."
        return f"{lead.name} is '{lead.status}'.{contacted}"
    if kind == "agenda":
        return agenda_text(session, agent_id, zone, now, query.get("day"))
    if kind == "leads_by_status":
        status = query.get("status")
        if not status:  # "list my leads": a count per status, not 5,000 names
            return lead_counts_text(session, agent_id)
        return leads_by_status_text(session, agent_id, status)
    return "I can answer: a lead's status, your agenda, or who is in a status."


def agenda_text(session: Session, agent_id: int, zone: ZoneInfo, now: datetime,
                day: str | None = None) -> str:
    """Follow-ups due on `day` (default today, in the agent's zone) plus any overdue ones."""
    local_now = now.astimezone(zone)
    the_day = datetime.fromisoformat(day).date() if day else local_now.date()
    start = datetime.combine(the_day, time(0), tzinfo=zone)
    end = start + timedelta(days=1)
    rows = session.execute(
        select(Appointment, Lead.name)
        .join(Lead, Lead.id == Appointment.lead_id)
        .where(
            Appointment.agent_id == agent_id,
            Appointment.state == "scheduled",
            Appointment.due_at < end,
        )
        .order_by(Appointment.due_at)
    ).all()
    is_today = the_day == local_now.date()
    # overdue ones only with today's agenda; another day lists that day alone (asked in the
    # evening, "tomorrow" is not what is left of tonight)
    overdue = [(a, n) for a, n in rows if a.due_at < min(start, now)] if is_today else []
    today = [(a, n) for a, n in rows if a.due_at >= (min(start, now) if is_today else start)]
    rows = overdue + today
    label = "today" if is_today else the_day.strftime("%a %b %-d")
    if not rows:
        return f"Nothing on your agenda {label}."
    lines = [f"Agenda {label}:"]
    for appointment, name in today[:MAX_LISTED]:
        when = appointment.due_at.astimezone(zone).strftime("%-I:%M %p")
        lines.append(f"• {when} {name}: {appointment.title}")
    if overdue:
        lines.append(f"Overdue ({len(overdue)}):")
        for appointment, name in overdue[:MAX_LISTED]:
            lines.append(f"• {name}: {appointment.title}")
    return "\n".join(lines)


def lead_counts_text(session: Session, agent_id: int) -> str:
    counts = dict(
        session.execute(
            select(Lead.status, func.count(Lead.id))
            .where(Lead.agent_id == agent_id)
            .group_by(Lead.status)
        ).all()
    )
    if not counts:
        return "You have no leads yet. Text e.g. \"New lead Jane Roe 312-555-0123\"."
    parts = [f"{counts[s]} {s.replace('_', ' ')}" for s in STATUSES if counts.get(s)]
    return f"You have {sum(counts.values())} leads: {', '.join(parts)}."


def leads_by_status_text(session: Session, agent_id: int, status: str) -> str:
    names = list(
        session.scalars(
            select(Lead.name)
            .where(Lead.agent_id == agent_id, Lead.status == status)
            .order_by(Lead.name)
        )
    )
    label = status.replace("_", " ")
    if not names:
        return f"No leads are '{label}'."
    shown = ", ".join(names[:MAX_LISTED * 2])
    more = f" and {len(names) - MAX_LISTED * 2} more" if len(names) > MAX_LISTED * 2 else ""
    return f"{len(names)} lead(s) '{label}': {shown}{more}."


def _day(moment: datetime, now: datetime) -> str:
    return moment.strftime("%a %b %-d")
