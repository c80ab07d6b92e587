"""`log_interaction`: a call, meeting, viewing, email, text or note; all but notes are contact."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete

from db.models import ClientInteraction, Lead
from db.vocabulary import INTERACTION_TYPES
from webapp.execution.handlers.base import ActionHandler, Effect, PlanRejected, PlanRun


class LogInteraction(ActionHandler):
    type = "log_interaction"
    undo_offer = "remove the {interaction_type} logged with {lead}"
    undo_done = "removed the {interaction_type} with {lead}"

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        kind = action["interaction_type"]
        if kind not in INTERACTION_TYPES:
            raise PlanRejected(f"{kind!r} is not an interaction type")
        lead = run.own_lead(action["lead_id"])
        interaction = ClientInteraction(lead_id=lead.id, agent_id=run.agent.id, type=kind,
                                        note=action.get("note") or "", occurred_at=run.now,
                                        channel=run.channel, plan_id=run.plan_id)
        run.session.add(interaction)
        previous = lead.last_contacted
        if kind != "note":
            lead.last_contacted = run.now
        run.session.flush()
        return {"type": self.type, "lead_id": lead.id, "lead": lead.name,
                "interaction_id": interaction.id, "interaction_type": kind,
                "note": interaction.note,
                "previous_last_contacted": previous.isoformat() if previous else None}

    def undo(self, run: PlanRun, effect: Effect) -> None:
        run.session.execute(delete(ClientInteraction)
                            .where(ClientInteraction.id == effect["interaction_id"]))
        lead = run.session.get(Lead, effect["lead_id"])
        if lead is not None and effect["interaction_type"] != "note":
            previous = effect.get("previous_last_contacted")
            lead.last_contacted = datetime.fromisoformat(previous) if previous else None

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        note = f": {effect['note']}" if effect["note"] else ""
        return f"Logged {effect['interaction_type']} with {effect['lead']}{note}."
