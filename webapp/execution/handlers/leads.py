"""`create_lead`: a new lead of the agent's, status `new`; a phone may belong to one lead only."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from db.models import Lead
from webapp.execution.handlers.base import ActionHandler, Effect, PlanRejected, PlanRun


class CreateLead(ActionHandler):
    type = "create_lead"
    undo_offer = "remove the new lead {lead}"
    undo_done = "removed the new lead {lead}"

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        if action.get("phone"):
            same = run.session.scalar(select(Lead).where(Lead.agent_id == run.agent.id,
                                                         Lead.phone == action["phone"]))
            if same is not None:
                raise PlanRejected(f"you already have a lead with that number ({same.name})")
        lead = Lead(agent_id=run.agent.id, name=action["name"], phone=action.get("phone"),
                    email=action.get("email"), status="new")
        run.session.add(lead)
        run.session.flush()
        return {"type": self.type, "lead_id": lead.id, "lead": lead.name}

    def undo(self, run: PlanRun, effect: Effect) -> None:
        run.session.execute(delete(Lead).where(Lead.id == effect["lead_id"],
                                               Lead.agent_id == run.agent.id))

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        return f"Added {effect['lead']} as a new lead."
