"""`reschedule_follow_up`, `cancel_follow_up`, `complete_follow_up`: changing an open follow-up.

Each one checks that the follow-up is still what the agent saw when the plan was made (open,
same due time and title); one that was done, cancelled or moved meanwhile, by any channel,
fails the plan with what changed rather than acting on stale data. Each change bumps the
follow-up's iCalendar SEQUENCE, writes a `change_history` row, and puts the reminder right: a
moved follow-up is reminded at its new time (never at the old one, even when the old reminder
was already claimed and its text is still waiting to be sent), a closed one never.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from db.models import Appointment, ChangeHistory, Message
from webapp.execution.handlers.base import ActionHandler, Effect, PlanRejected, PlanRun
from webapp.outbound.messages import QUEUED, WITHDRAWN
from webapp.understanding.replies import format_due

REMINDER_FIELDS = ("reminded_at", "reminder_number", "reminder_message_id", "reminder_late")


def own_follow_up(run: PlanRun, appointment_id: int) -> Appointment:
    """The agent's follow-up `appointment_id`, locked for this transaction (PostgreSQL)."""
    appointment = run.session.scalar(
        select(Appointment).where(Appointment.id == appointment_id).with_for_update()
    )
    if appointment is None or appointment.agent_id != run.agent.id:
        raise PlanRejected("that follow-up no longer exists")
    return appointment


def require_open(appointment: Appointment, due_at: str | None, title: str | None,
                 zone: ZoneInfo) -> None:
    """Refuse a follow-up that is no longer as the plan saw it."""
    if appointment.state != "scheduled":
        closed = "done" if appointment.state == "done" else "cancelled"
        raise PlanRejected(f"'{appointment.title}' was already marked {closed} meanwhile")
    if due_at is not None and appointment.due_at != datetime.fromisoformat(due_at):
        moved = format_due(appointment.due_at.astimezone(zone))
        raise PlanRejected(f"'{appointment.title}' was moved to {moved} meanwhile")
    if title is not None and appointment.title != title:
        raise PlanRejected(f"that follow-up was renamed '{appointment.title}' meanwhile")


def reminder_state(appointment: Appointment) -> dict[str, Any]:
    """The reminder bookkeeping as JSON, so that undo can put it back."""
    state = {name: getattr(appointment, name) for name in REMINDER_FIELDS}
    if state["reminded_at"] is not None:
        state["reminded_at"] = state["reminded_at"].isoformat()
    return state


def restore_reminder(run: PlanRun, appointment: Appointment, state: dict[str, Any]) -> None:
    """Put back the reminder bookkeeping an effect recorded (undo). A reminder whose text was
    withdrawn unsent, or a follow-up due again in the future, is left for the dispatcher to
    remind afresh at its due time."""
    message_id = state.get("reminder_message_id")
    message = run.session.get(Message, message_id) if message_id else None
    if (message is not None and message.status == WITHDRAWN) or appointment.due_at > run.now:
        state = {}
    for name in REMINDER_FIELDS:
        value = state.get(name)
        if name == "reminded_at" and value is not None:
            value = datetime.fromisoformat(value)
        setattr(appointment, name, bool(value) if name == "reminder_late" else value)


def withdraw_unsent_reminder(run: PlanRun, appointment: Appointment) -> None:
    """Withdraw the follow-up's reminder text if it is still waiting to be sent and reminds of
    nothing else (a catch-up text folds several): its send task then finds nothing to send."""
    message_id = appointment.reminder_message_id
    if message_id is None:
        return
    shared = run.session.scalar(
        select(func.count(Appointment.id)).where(
            Appointment.reminder_message_id == message_id, Appointment.id != appointment.id)
    )
    message = run.session.get(Message, message_id)
    if not shared and message is not None and message.status == QUEUED:
        message.status = WITHDRAWN
        message.updated_at = run.now


def forget_reminder(run: PlanRun, appointment: Appointment) -> None:
    """Make the follow-up unreminded again (the dispatcher reminds it at its due time)."""
    withdraw_unsent_reminder(run, appointment)
    appointment.reminded_at = None
    appointment.reminder_number = None
    appointment.reminder_message_id = None
    appointment.reminder_late = False


def record_change(run: PlanRun, appointment: Appointment, kind: str,
                  changes: dict[str, list[Any]]) -> int:
    """A `change_history` row for `appointment`; returns its id."""
    row = ChangeHistory(agent_id=run.agent.id, lead_id=appointment.lead_id,
                        appointment_id=appointment.id, kind=kind, changes=changes,
                        changed_at=run.now, channel=run.channel, plan_id=run.plan_id)
    run.session.add(row)
    run.session.flush()
    return row.id


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class RescheduleFollowUp(ActionHandler):
    type = "reschedule_follow_up"
    undo_offer = "move '{title}' back to {old_when}"
    undo_done = "moved '{title}' back to {old_when}"
    event = "follow_up.rescheduled"
    undo_event = "follow_up.rescheduled"

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        appointment = own_follow_up(run, action["appointment_id"])
        require_open(appointment, action.get("old_due_at"), action.get("old_title"), run.zone)
        due_at = datetime.fromisoformat(action["due_at"])
        if due_at.tzinfo is None:
            raise PlanRejected("the new time has no time zone")
        old_due, old_title = appointment.due_at, appointment.title
        moved = due_at != old_due  # a new title alone keeps the time and its reminder
        if moved and due_at <= run.now and not action.get("snooze"):
            raise PlanRejected(f"{format_due(due_at.astimezone(run.zone))} is already past")
        title = action.get("title") or old_title
        before = reminder_state(appointment)
        if moved:
            forget_reminder(run, appointment)
        appointment.due_at = due_at
        appointment.title = title
        appointment.sequence += 1
        appointment.updated_at = run.now
        if action.get("snooze"):
            appointment.snooze_count += 1
        changes: dict[str, list[Any]] = {"due_at": [_iso(old_due), _iso(due_at)]}
        if title != old_title:
            changes["title"] = [old_title, title]
        history_id = record_change(run, appointment, "follow_up.rescheduled", changes)
        return {"type": self.type, "lead_id": appointment.lead_id,
                "lead": run.own_lead(appointment.lead_id).name,
                "appointment_id": appointment.id, "title": title, "old_title": old_title,
                "due_at": _iso(due_at), "old_due_at": _iso(old_due),
                "old_when": format_due(old_due.astimezone(run.zone)),
                "snooze": bool(action.get("snooze")), "old_reminder": before,
                "history_id": history_id}

    def undo(self, run: PlanRun, effect: Effect) -> None:
        appointment = own_follow_up(run, effect["appointment_id"])
        require_open(appointment, effect["due_at"], effect["title"], run.zone)
        forget_reminder(run, appointment)
        appointment.due_at = datetime.fromisoformat(effect["old_due_at"])
        appointment.title = effect["old_title"]
        appointment.sequence += 1
        appointment.updated_at = run.now
        if effect.get("snooze"):
            appointment.snooze_count = max(0, appointment.snooze_count - 1)
        restore_reminder(run, appointment, effect.get("old_reminder") or {})
        changes: dict[str, list[Any]] = {"due_at": [effect["due_at"], effect["old_due_at"]]}
        if effect["title"] != effect["old_title"]:
            changes["title"] = [effect["title"], effect["old_title"]]
        record_change(run, appointment, "follow_up.rescheduled", changes)

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        when = format_due(datetime.fromisoformat(effect["due_at"]).astimezone(zone))
        return f"Moved '{effect['title']}' with {effect['lead']} to {when}."


class _CloseFollowUp(ActionHandler):
    """Cancel and complete: the follow-up leaves the open ones; undo opens it again."""

    state: str
    kind: str

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        appointment = own_follow_up(run, action["appointment_id"])
        require_open(appointment, action.get("due_at"), action.get("title"), run.zone)
        before = reminder_state(appointment)
        withdraw_unsent_reminder(run, appointment)  # "it was reminded" stays on record
        appointment.state = self.state
        appointment.sequence += 1
        appointment.updated_at = run.now
        if self.state == "done":
            appointment.completed_at = run.now
        history_id = record_change(run, appointment, self.kind,
                                   {"state": ["scheduled", self.state]})
        return {"type": self.type, "lead_id": appointment.lead_id,
                "lead": run.own_lead(appointment.lead_id).name,
                "appointment_id": appointment.id, "title": appointment.title,
                "due_at": _iso(appointment.due_at), "old_reminder": before,
                "history_id": history_id}

    def undo(self, run: PlanRun, effect: Effect) -> None:
        appointment = own_follow_up(run, effect["appointment_id"])
        if appointment.state != self.state:
            raise PlanRejected(f"'{appointment.title}' changed since")
        appointment.state = "scheduled"
        appointment.completed_at = None
        appointment.sequence += 1
        appointment.updated_at = run.now
        restore_reminder(run, appointment, effect.get("old_reminder") or {})
        record_change(run, appointment, "follow_up.reopened", {"state": [self.state,
                                                                         "scheduled"]})


class CancelFollowUp(_CloseFollowUp):
    type = "cancel_follow_up"
    state = "cancelled"
    kind = "follow_up.cancelled"
    event = "follow_up.cancelled"
    undo_event = "follow_up.reopened"
    undo_offer = "reopen the cancelled follow-up '{title}'"
    undo_done = "reopened the follow-up '{title}'"

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        return f"Cancelled '{effect['title']}' with {effect['lead']}."


class CompleteFollowUp(_CloseFollowUp):
    type = "complete_follow_up"
    state = "done"
    kind = "follow_up.completed"
    event = "follow_up.completed"
    undo_event = "follow_up.reopened"
    undo_offer = "reopen the follow-up '{title}'"
    undo_done = "reopened the follow-up '{title}'"

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        return f"Marked done: '{effect['title']}' with {effect['lead']}."
