"""DONE and SNOOZE: the agent's answers to a reminder text, applied at once.

They refer to the agent's most recent reminder, or to a numbered one ("DONE 2") when several
are outstanding. No YES round-trip: the agent is answering the assistant's own question. Each
runs as a plan of one action (`complete_follow_up`, or `reschedule_follow_up` marked as a
snooze) through the same execution as a confirmed text, so it is audited and can be undone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Appointment, Lead, User
from db.session import Database
from webapp.execution.plans import run_plan_now
from webapp.understanding.replies import format_due


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


def mark_done(db: Database, agent: User, number: int | None, channel: str,
              now: datetime | None = None) -> str:
    found = _reminder_action(db, agent, number)
    if isinstance(found, str):
        return found
    action, lead = found
    outcome = run_plan_now(db, agent.id, [{**action, "type": "complete_follow_up"}], channel,
                           summary="DONE", now=now)
    if outcome.state != "executed":
        return _could_not(outcome.error)
    return f"✅ Marked done: {action['title']} ({lead})."


def snooze(db: Database, agent: User, number: int | None, due_at: datetime, channel: str,
           now: datetime | None = None) -> str:
    """Reschedule the reminder: it becomes an ordinary, not-yet-reminded follow-up again."""
    found = _reminder_action(db, agent, number)
    if isinstance(found, str):
        return found
    action, _ = found
    move = {"type": "reschedule_follow_up", "lead_id": action["lead_id"],
            "appointment_id": action["appointment_id"], "due_at": due_at.isoformat(),
            "title": action["title"], "old_due_at": action["due_at"],
            "old_title": action["title"], "snooze": True}
    outcome = run_plan_now(db, agent.id, [move], channel, summary="SNOOZE", now=now)
    if outcome.state != "executed":
        return _could_not(outcome.error)
    when = format_due(due_at.astimezone(ZoneInfo(agent.timezone)))
    return f"😴 Snoozed: {action['title']}. I'll remind you again {when}."


def _reminder_action(db: Database, agent: User, number: int | None) -> tuple[dict, str] | str:
    """The follow-up the reply is about, as an action's fields and its lead's name; or what to
    say when there is none."""
    with db.session() as session:
        appointment = outstanding_reminder(session, agent.id, number)
        if appointment is None:
            return _none_outstanding(number)
        lead = session.get(Lead, appointment.lead_id)
        return ({"lead_id": appointment.lead_id, "appointment_id": appointment.id,
                 "title": appointment.title, "due_at": appointment.due_at.isoformat()},
                lead.name if lead else "")


def _could_not(reason: str | None) -> str:
    return f"Sorry, I couldn't do that: {reason or 'it changed meanwhile'}. Nothing was changed."


def _none_outstanding(number: int | None) -> str:
    if number is not None:
        return f"I can't find reminder #{number}. Text AGENDA to see your follow-ups."
    return "There's no reminder waiting for an answer."
