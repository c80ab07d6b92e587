"""`create_lead`: a new lead of the agent's; a phone, or an external id, belongs to one lead only.

A lead starts `new` unless the action says another status (the API, an import), which is then
recorded in `lead_history` as set from nothing. Its `source` is the channel it came through.
A lead the agent did not add by their own text or call gets its new-lead alert in the same
transaction (`webapp.crm.lead_alerts`; `alert_batch`: the API's batch upsert, one summary);
undoing the plan deletes the lead, and the alert with it.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from db.models import Lead, LeadHistory
from db.vocabulary import STATUSES
from webapp.crm.lead_alerts import add_alert, alerts_for
from webapp.execution.handlers.base import (
    ActionHandler,
    Effect,
    PlanRejected,
    PlanRun,
    check_external_ids,
    require_free_external_ids,
)


class CreateLead(ActionHandler):
    type = "create_lead"
    undo_offer = "remove the new lead {lead}"
    undo_done = "removed the new lead {lead}"
    event = "lead.created"
    undo_event = "lead.deleted"

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        if action.get("phone"):
            same = run.session.scalar(select(Lead).where(Lead.agent_id == run.agent.id,
                                                         Lead.phone == action["phone"]))
            if same is not None:
                raise PlanRejected(f"you already have a lead with that number ({same.name})")
        status = action.get("status") or "new"
        if status not in STATUSES:
            raise PlanRejected(f"{status!r} is not a status")
        external_ids = check_external_ids(action.get("external_ids") or {})
        require_free_external_ids(run, external_ids)
        lead = Lead(agent_id=run.agent.id, name=action["name"], phone=action.get("phone"),
                    email=action.get("email"), status=status, source=run.channel,
                    external_ids=external_ids)
        run.session.add(lead)
        run.session.flush()
        if status != "new":
            run.session.add(LeadHistory(lead_id=lead.id, agent_id=run.agent.id, old_status=None,
                                        new_status=status, changed_at=run.now,
                                        channel=run.channel, plan_id=run.plan_id))
        if alerts_for(run.channel):
            add_alert(run.session, run.agent.id, lead.id, batch=action.get("alert_batch"),
                      now=run.now)
        return {"type": self.type, "lead_id": lead.id, "lead": lead.name}

    def undo(self, run: PlanRun, effect: Effect) -> None:
        run.session.execute(delete(Lead).where(Lead.id == effect["lead_id"],
                                               Lead.agent_id == run.agent.id))

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        return f"Added {effect['lead']} as a new lead."
