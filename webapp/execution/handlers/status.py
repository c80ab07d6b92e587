"""`update_status`: a lead's pipeline status, with a `lead_history` row for every change.

The status the agent saw (`old_status`, when the plan carries it) must still be the lead's: a
status changed meanwhile by another channel fails the plan rather than being overwritten.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from db.models import LeadHistory
from db.vocabulary import STATUSES
from webapp.execution.handlers.base import ActionHandler, Effect, PlanRejected, PlanRun


class UpdateStatus(ActionHandler):
    type = "update_status"
    undo_offer = "set {lead} back to '{old_status}'"
    undo_done = "{lead} is back to '{old_status}'"

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        new = action["status"]
        if new not in STATUSES:
            raise PlanRejected(f"{new!r} is not a status")
        lead = run.own_lead(action["lead_id"])
        old = lead.status
        seen = action.get("old_status")
        if seen and old not in (seen, new):
            raise PlanRejected(f"{lead.name} was changed to '{old}' meanwhile")
        effect = {"type": self.type, "lead_id": lead.id, "lead": lead.name,
                  "old_status": old, "new_status": new, "history_id": None}
        if old == new:
            return effect
        lead.status = new
        lead.updated_at = run.now
        history = LeadHistory(lead_id=lead.id, agent_id=run.agent.id, old_status=old,
                              new_status=new, changed_at=run.now, channel=run.channel,
                              plan_id=run.plan_id)
        run.session.add(history)
        run.session.flush()
        effect["history_id"] = history.id
        return effect

    def undo(self, run: PlanRun, effect: Effect) -> None:
        lead = run.own_lead(effect["lead_id"])
        run.session.add(LeadHistory(lead_id=lead.id, agent_id=run.agent.id,
                                    old_status=lead.status, new_status=effect["old_status"],
                                    changed_at=run.now, channel=run.channel,
                                    plan_id=run.plan_id))
        lead.status = effect["old_status"]
        lead.updated_at = run.now

    def reverts(self, effect: Effect) -> bool:
        return bool(effect.get("history_id"))

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        if effect["history_id"] is None:
            return f"{effect['lead']} was already '{effect['new_status']}'."
        return (f"The status for {effect['lead']} has been updated from "
                f"'{effect['old_status']}' to '{effect['new_status']}'.")
