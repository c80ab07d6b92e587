"""DONE and SNOOZE: the agent's answers to a reminder text, applied at once.

They refer to the agent's most recent reminder, or to a numbered one ("DONE 2") when several
are outstanding. No YES round-trip: the agent is answering the assistant's own question.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Appointment, Lead


def outstanding_reminder(session: Session, agent_id: int, number: int | None) -> Appointment | None:
    """The reminded, still-scheduled follow-up the agent means."""
    query = select(Appointment).where(
        Appointment.agent_id == agent_id,
        Appointment.state == "scheduled",
        Appointment.reminded_at.is_not(None),
    )
    if number is not None:
        query = query.where(Appointment.reminder_number == number)
    return session.scalar(
        query.order_by(Appointment.reminded_at.desc(), Appointment.id.desc()).limit(1)
    )


def mark_done(session: Session, agent_id: int, number: int | None) -> str:
    appointment = outstanding_reminder(session, agent_id, number)
    if appointment is None:
        return _none_outstanding(number)
    appointment.state = "done"
    lead = session.get(Lead, appointment.lead_id)
    session.commit()
    return f"✅ Marked done: {appointment.title} ({lead.name})."


def snooze(session: Session, agent_id: int, number: int | None, due_at: datetime,
           zone: ZoneInfo) -> str:
    """Reschedule the reminder: it becomes an ordinary, not-yet-reminded follow-up again."""
    appointment = outstanding_reminder(session, agent_id, number)
    if appointment is None:
        return _none_outstanding(number)
    appointment.due_at = due_at
    appointment.reminded_at = None
    appointment.reminder_number = None
    appointment.reminder_message_id = None
    appointment.reminder_late = False
    session.commit()
    when = due_at.astimezone(zone).strftime("%a %b %-d, %-I:%M %p")
    return f"😴 Snoozed: {appointment.title}. I'll remind you again {when}."


def _none_outstanding(number: int | None) -> str:
    if number is not None:
        return f"I can't find reminder #{number}. Text AGENDA to see your follow-ups."
    return "There's no reminder waiting for an answer."
