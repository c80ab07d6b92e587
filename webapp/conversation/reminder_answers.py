"""DONE and SNOOZE: the agent's answers to a reminder text, applied at once.

They refer to the agent's only outstanding reminder, or to a numbered one ("DONE 2"); with
several outstanding and no number the answer asks which (each reminder text then carried its
number). No YES round-trip: the agent is answering the assistant's own question. Each runs as a
plan (`complete_follow_up`, or `reschedule_follow_up` marked as a snooze, plus any logs the
agent added: "done, talked to him, all good") through the same execution as a confirmed text,
so it is audited and can be undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Appointment, Lead, User
from db.session import Database
from webapp.execution.plans import run_plan_now
from webapp.understanding.replies import format_due


@dataclass(frozen=True)
class Reminder:
    """The outstanding reminder an answer is about, as the fields its actions need."""

    appointment_id: int
    lead_id: int
    lead: str
    title: str
    due_at: str  # ISO 8601

    def action(self) -> dict:
        return {"lead_id": self.lead_id, "appointment_id": self.appointment_id,
                "title": self.title, "due_at": self.due_at}


def outstanding_reminder(session: Session, agent_id: int, number: int | None) -> Appointment | None:
    """The reminded, still-scheduled follow-up the agent means (the latest one for no number)."""
    query = _outstanding(agent_id)
    if number is not None:
        query = query.where(Appointment.reminder_number == number)
    return session.scalar(
        query.order_by(Appointment.reminded_at.desc(), Appointment.id.desc()).limit(1)
    )


def find_reminder(db: Database, agent: User, number: int | None) -> Reminder | str:
    """The reminder an answer is about, or what to tell the agent instead: none waiting,
    "#2 is already done", or which one (several waiting and no number said)."""
    with db.session() as session:
        if number is None:
            waiting = list(session.execute(
                _outstanding(agent.id).with_only_columns(
                    Appointment.reminder_number, Appointment.title, Lead.name)
                .join(Lead, Lead.id == Appointment.lead_id)
                .order_by(Appointment.reminder_number, Appointment.id)))
            if len(waiting) > 1:
                listed = "; ".join(f"#{n} {title} ({name})" for n, title, name in waiting[:5])
                return (f"Which one? {listed}. Reply with its number, e.g. "
                        f"DONE {waiting[0][0]} or SNOOZE {waiting[0][0]} 1h.")
        appointment = outstanding_reminder(session, agent.id, number)
        if appointment is None:
            return _none_outstanding(session, agent.id, number)
        lead = session.get(Lead, appointment.lead_id)
        return Reminder(appointment.id, appointment.lead_id, lead.name if lead else "",
                        appointment.title, appointment.due_at.isoformat())


def complete(db: Database, agent: User, reminder: Reminder, channel: str,
             now: datetime | None = None, logs: Sequence[dict] = ()) -> str:
    """Close the reminder (and log what the agent added), in one plan run now."""
    actions = [{**reminder.action(), "type": "complete_follow_up"}, *logs]
    outcome = run_plan_now(db, agent.id, actions, channel, summary="DONE", now=now)
    if outcome.state != "executed":
        return _could_not(outcome.error)
    return f"✅ Marked done: {reminder.title} ({reminder.lead})." + _logged(outcome.effects)


def move(db: Database, agent: User, reminder: Reminder, due_at: datetime, channel: str,
         now: datetime | None = None, logs: Sequence[dict] = ()) -> str:
    """Reschedule the reminder: it becomes an ordinary, not-yet-reminded follow-up again."""
    action = reminder.action()
    snoozed = {**action, "type": "reschedule_follow_up", "due_at": due_at.isoformat(),
               "old_due_at": action["due_at"], "old_title": action["title"], "snooze": True}
    outcome = run_plan_now(db, agent.id, [snoozed, *logs], channel, summary="SNOOZE", now=now)
    if outcome.state != "executed":
        return _could_not(outcome.error)
    when = format_due(due_at.astimezone(ZoneInfo(agent.timezone)))
    return (f"😴 Snoozed: {reminder.title}. I'll remind you again {when}."
            + _logged(outcome.effects))


def mark_done(db: Database, agent: User, number: int | None, channel: str,
              now: datetime | None = None) -> str:
    found = find_reminder(db, agent, number)
    return found if isinstance(found, str) else complete(db, agent, found, channel, now)


def snooze(db: Database, agent: User, number: int | None, due_at: datetime, channel: str,
           now: datetime | None = None) -> str:
    found = find_reminder(db, agent, number)
    return found if isinstance(found, str) else move(db, agent, found, due_at, channel, now)


def _outstanding(agent_id: int):
    return select(Appointment).where(
        Appointment.agent_id == agent_id,
        Appointment.state == "scheduled",
        Appointment.reminded_at.is_not(None),
    )


def _logged(effects: list[dict] | None) -> str:
    lines = [f" Logged {e['interaction_type']} with {e['lead']}"
             + (f": {e['note']}." if e.get("note") else ".")
             for e in effects or [] if e.get("type") == "log_interaction"]
    return "".join(lines)


def _could_not(reason: str | None) -> str:
    return f"Sorry, I couldn't do that: {reason or 'it changed meanwhile'}. Nothing was changed."


def _none_outstanding(session: Session, agent_id: int, number: int | None) -> str:
    if number is None:
        return "There's no reminder waiting for an answer."
    closed = session.execute(
        select(Appointment.state, Appointment.title, Lead.name)
        .join(Lead, Lead.id == Appointment.lead_id)
        .where(Appointment.agent_id == agent_id, Appointment.reminder_number == number,
               Appointment.state != "scheduled")
        .order_by(Appointment.updated_at.desc(), Appointment.id.desc()).limit(1)
    ).first()
    if closed is not None:
        state, title, name = closed
        word = "already done" if state == "done" else f"already {state}"
        return f"Reminder #{number} ({title}, {name}) is {word}. Nothing changed."
    return f"I can't find reminder #{number}. Text AGENDA to see your follow-ups."
