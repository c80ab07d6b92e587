"""`log_interaction`: a call, meeting, viewing, email, text or note; all but notes are contact.

By text it happened now; the API may say when it happened (`occurred_at`, with an offset, not
in the future), and a contact logged late never moves the lead's last contact back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete

from db.models import ClientInteraction, Lead
from db.vocabulary import INTERACTION_TYPES
from webapp.execution.handlers.base import (
    ActionHandler,
    Effect,
    PlanRejected,
    PlanRun,
    check_external_ids,
)

FUTURE_SLACK = timedelta(minutes=5)  # clocks differ a little between systems


class LogInteraction(ActionHandler):
    type = "log_interaction"
    undo_offer = "remove the {interaction_type} logged with {lead}"
    undo_done = "removed the {interaction_type} with {lead}"
    event = "interaction.created"
    undo_event = "interaction.deleted"

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        kind = action["interaction_type"]
        if kind not in INTERACTION_TYPES:
            raise PlanRejected(f"{kind!r} is not an interaction type")
        lead = run.own_lead(action["lead_id"])
        occurred_at = run.now
        if action.get("occurred_at"):
            occurred_at = datetime.fromisoformat(action["occurred_at"])
            if occurred_at.tzinfo is None:
                raise PlanRejected("the interaction's time has no time zone")
            if occurred_at > run.now + FUTURE_SLACK:
                raise PlanRejected("an interaction cannot happen in the future")
        interaction = ClientInteraction(lead_id=lead.id, agent_id=run.agent.id, type=kind,
                                        note=action.get("note") or "", occurred_at=occurred_at,
                                        channel=run.channel, plan_id=run.plan_id,
                                        external_ids=check_external_ids(
                                            action.get("external_ids") or {}))
        run.session.add(interaction)
        previous = lead.last_contacted
        if kind != "note" and (previous is None or occurred_at > previous
                               or not action.get("occurred_at")):
            lead.last_contacted = occurred_at
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
