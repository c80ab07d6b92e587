"""`schedule_follow_up`: something to do for a lead at an instant; beat reminds the agent then."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from db.models import Appointment
from webapp.execution.handlers.base import (
    ActionHandler,
    Effect,
    PlanRejected,
    PlanRun,
    check_external_ids,
)
from webapp.execution.handlers.follow_up_changes import record_change, withdraw_unsent_reminder
from webapp.understanding.replies import format_due


class ScheduleFollowUp(ActionHandler):
    type = "schedule_follow_up"
    undo_offer = "cancel the follow-up '{title}'"
    undo_done = "cancelled the follow-up '{title}'"
    event = "follow_up.created"
    undo_event = "follow_up.cancelled"

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        lead = run.own_lead(action["lead_id"])
        due_at = datetime.fromisoformat(action["due_at"])
        if due_at.tzinfo is None:
            raise PlanRejected("the follow-up time has no time zone")
        appointment = Appointment(lead_id=lead.id, agent_id=run.agent.id, title=action["title"],
                                  due_at=due_at, channel=run.channel, plan_id=run.plan_id,
                                  external_ids=check_external_ids(
                                      action.get("external_ids") or {}))
        run.session.add(appointment)
        run.session.flush()
        return {"type": self.type, "lead_id": lead.id, "lead": lead.name,
                "appointment_id": appointment.id, "title": appointment.title,
                "due_at": due_at.isoformat()}

    def undo(self, run: PlanRun, effect: Effect) -> bool:
        """Cancel the follow-up (kept, as every cancelled one is), unless already closed; False
        when there was nothing to cancel."""
        appointment = run.session.get(Appointment, effect["appointment_id"])
        if appointment is not None and appointment.state == "scheduled":
            withdraw_unsent_reminder(run, appointment)
            appointment.state = "cancelled"
            appointment.sequence += 1
            appointment.updated_at = run.now
            record_change(run, appointment, "follow_up.cancelled",
                          {"state": ["scheduled", "cancelled"]})
            return True
        return False

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        due = datetime.fromisoformat(effect["due_at"]).astimezone(zone)
        return f"Follow-up with {effect['lead']} set: {effect['title']} — {format_due(due)}."
