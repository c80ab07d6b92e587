"""Running a confirmed plan against the database: all of it in one transaction, exactly once.

The `executed_plans` row (state `confirmed`) is written by the conversation before any task is
queued. Running a plan first moves that row from `confirmed` to `executed` with a guarded UPDATE
in the same transaction as the plan's effects, so a redelivered or duplicated task finds nothing
to claim and changes nothing. Any failure rolls back every effect; the row then records why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from db.models import (
    Appointment,
    ClientInteraction,
    ExecutedPlan,
    Lead,
    LeadHistory,
    User,
)
from db.session import Database
from webapp import metrics
from webapp.conversation.undo import undo_clauses
from webapp.understanding.plan import INTERACTION_TYPES, STATUSES
from workers.outbound import queue_text

log = logging.getLogger(__name__)


class PlanRejected(Exception):
    """The plan cannot be carried out as confirmed (a lead is gone, a value is invalid)."""


@dataclass
class Outcome:
    plan_id: str
    state: str  # executed | failed | already_done | missing
    message_id: int | None = None  # the result text queued for the agent


def run_confirmed_plan(db: Database, plan_id: str, now: datetime | None = None) -> Outcome:
    """Run the plan `plan_id` if it is still `confirmed`; otherwise change nothing.

    Database errors that may pass (lost connection, lock timeout) propagate so the task retries;
    a plan that cannot be carried out ends `failed` and the agent is told nothing changed.
    """
    now = now or datetime.now(UTC)
    with db.session() as session:
        claimed = session.execute(
            update(ExecutedPlan)
            .where(ExecutedPlan.plan_id == plan_id, ExecutedPlan.state == "confirmed")
            .values(state="executed", executed_at=now, attempts=ExecutedPlan.attempts + 1)
        ).rowcount
        if claimed != 1:
            state = session.scalar(
                select(ExecutedPlan.state).where(ExecutedPlan.plan_id == plan_id)
            )
            return Outcome(plan_id, "already_done" if state else "missing")
        row = session.scalar(select(ExecutedPlan).where(ExecutedPlan.plan_id == plan_id))
        agent = session.get(User, row.agent_id)
        try:
            if row.undoes_plan_id:
                effects = _undo(session, row, agent, now)
                text = undo_result_text(effects)
            else:
                effects = _apply(session, row, agent, now)
                text = result_text(effects, ZoneInfo(agent.timezone))
        except PlanRejected as exc:
            session.rollback()
            return _record_failure(db, plan_id, str(exc), now)
        except OperationalError:
            raise
        except Exception as exc:  # anything else: nothing of the plan may stay half-written
            session.rollback()
            log.exception("plan failed", extra={"plan_id": plan_id})
            return _record_failure(db, plan_id, f"internal error: {type(exc).__name__}", now)
        row.result = {"effects": effects}
        message = queue_text(
            session, agent_id=agent.id, phone=agent.phone, body=text, plan_id=plan_id,
            channel="sms",
        )
        session.commit()
        metrics.count_plan("executed")
        return Outcome(plan_id, "executed", message.id)


def mark_failed(db: Database, plan_id: str, reason: str, now: datetime | None = None) -> Outcome:
    """Give up on a confirmed plan (e.g. after the last recovery attempt) and tell the agent."""
    return _record_failure(db, plan_id, reason, now or datetime.now(UTC))


def _record_failure(db: Database, plan_id: str, reason: str, now: datetime) -> Outcome:
    """Move a still-`confirmed` plan to `failed` and tell the agent nothing changed.

    Guarded like the claim: only a `confirmed` row may fail. A plan that a late task executed
    meanwhile (the sweep gives up just as the last attempt runs, or commits while this waits on
    the row lock) stays `executed`, and no "Nothing was changed" text contradicts the CRM.
    """
    with db.session() as session:
        failed = session.execute(
            update(ExecutedPlan)
            .where(ExecutedPlan.plan_id == plan_id, ExecutedPlan.state == "confirmed")
            .values(state="failed", error=reason, executed_at=now)
        ).rowcount
        if failed != 1:
            state = session.scalar(
                select(ExecutedPlan.state).where(ExecutedPlan.plan_id == plan_id)
            )
            return Outcome(plan_id, "already_done" if state == "executed" else state or "missing")
        row = session.scalar(select(ExecutedPlan).where(ExecutedPlan.plan_id == plan_id))
        agent = session.get(User, row.agent_id)
        message = queue_text(
            session,
            agent_id=agent.id,
            phone=agent.phone,
            body=f"❌ Sorry, I couldn't do that: {reason}. Nothing was changed.",
            plan_id=plan_id,
        )
        session.commit()
        metrics.count_plan("failed")
        return Outcome(plan_id, "failed", message.id)


def _own_lead(session: Session, agent: User, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.agent_id != agent.id:
        raise PlanRejected("that lead no longer exists")
    return lead


def _apply(session: Session, row: ExecutedPlan, agent: User, now: datetime) -> list[dict]:
    effects: list[dict[str, Any]] = []
    for action in row.plan.get("actions", []):
        kind = action["type"]
        if kind == "update_status":
            effects.append(_update_status(session, row, agent, action, now))
        elif kind == "log_interaction":
            effects.append(_log_interaction(session, row, agent, action, now))
        elif kind == "schedule_follow_up":
            effects.append(_schedule_follow_up(session, row, agent, action))
        elif kind == "create_lead":
            effects.append(_create_lead(session, agent, action))
        else:
            raise PlanRejected(f"unknown action {kind!r}")
    session.flush()
    return effects


def _update_status(session, row, agent, action, now) -> dict:  # type: ignore[no-untyped-def]
    if action["status"] not in STATUSES:
        raise PlanRejected(f"{action['status']!r} is not a status")
    lead = _own_lead(session, agent, action["lead_id"])
    old = lead.status
    effect = {"type": "update_status", "lead_id": lead.id, "lead": lead.name,
              "old_status": old, "new_status": action["status"], "history_id": None}
    if old == action["status"]:
        return effect
    lead.status = action["status"]
    lead.updated_at = now
    history = LeadHistory(lead_id=lead.id, agent_id=agent.id, old_status=old,
                          new_status=action["status"], changed_at=now, channel=row.channel,
                          plan_id=row.plan_id)
    session.add(history)
    session.flush()
    effect["history_id"] = history.id
    return effect


def _log_interaction(session, row, agent, action, now) -> dict:  # type: ignore[no-untyped-def]
    if action["interaction_type"] not in INTERACTION_TYPES:
        raise PlanRejected(f"{action['interaction_type']!r} is not an interaction type")
    lead = _own_lead(session, agent, action["lead_id"])
    interaction = ClientInteraction(lead_id=lead.id, agent_id=agent.id,
                                    type=action["interaction_type"], note=action.get("note") or "",
                                    occurred_at=now, channel=row.channel, plan_id=row.plan_id)
    session.add(interaction)
    previous = lead.last_contacted
    if action["interaction_type"] != "note":
        lead.last_contacted = now
    session.flush()
    return {"type": "log_interaction", "lead_id": lead.id, "lead": lead.name,
            "interaction_id": interaction.id, "interaction_type": interaction.type,
            "note": interaction.note,
            "previous_last_contacted": previous.isoformat() if previous else None}


def _schedule_follow_up(session, row, agent, action) -> dict:  # type: ignore[no-untyped-def]
    lead = _own_lead(session, agent, action["lead_id"])
    due_at = datetime.fromisoformat(action["due_at"])
    if due_at.tzinfo is None:
        raise PlanRejected("the follow-up time has no time zone")
    appointment = Appointment(lead_id=lead.id, agent_id=agent.id, title=action["title"],
                              due_at=due_at, channel=row.channel, plan_id=row.plan_id)
    session.add(appointment)
    session.flush()
    return {"type": "schedule_follow_up", "lead_id": lead.id, "lead": lead.name,
            "appointment_id": appointment.id, "title": appointment.title,
            "due_at": due_at.isoformat()}


def _create_lead(session, agent, action) -> dict:  # type: ignore[no-untyped-def]
    if action.get("phone"):
        same = session.scalar(select(Lead).where(Lead.agent_id == agent.id,
                                                 Lead.phone == action["phone"]))
        if same is not None:
            raise PlanRejected(f"you already have a lead with that number ({same.name})")
    lead = Lead(agent_id=agent.id, name=action["name"], phone=action.get("phone"),
                email=action.get("email"), status="new")
    session.add(lead)
    session.flush()
    return {"type": "create_lead", "lead_id": lead.id, "lead": lead.name}


def _undo(session: Session, row: ExecutedPlan, agent: User, now: datetime) -> list[dict]:
    """Revert an executed plan's effects, newest first: status back (with a history row),
    interactions removed, follow-ups cancelled, created leads removed."""
    original = session.scalar(
        select(ExecutedPlan).where(ExecutedPlan.plan_id == row.undoes_plan_id).with_for_update()
    )
    if original is None or original.agent_id != agent.id or original.state != "executed":
        raise PlanRejected("there is nothing to undo")
    if original.undone_by_plan_id:
        raise PlanRejected("that was already undone")
    reverted: list[dict[str, Any]] = []
    for effect in reversed((original.result or {}).get("effects", [])):
        kind = effect["type"]
        if kind == "update_status" and effect.get("history_id"):
            lead = _own_lead(session, agent, effect["lead_id"])
            session.add(LeadHistory(lead_id=lead.id, agent_id=agent.id, old_status=lead.status,
                                    new_status=effect["old_status"], changed_at=now,
                                    channel=row.channel, plan_id=row.plan_id))
            lead.status = effect["old_status"]
            reverted.append({**effect, "reverted": "status"})
        elif kind == "log_interaction":
            session.execute(delete(ClientInteraction)
                            .where(ClientInteraction.id == effect["interaction_id"]))
            lead = session.get(Lead, effect["lead_id"])
            if lead is not None and effect["interaction_type"] != "note":
                previous = effect.get("previous_last_contacted")
                lead.last_contacted = datetime.fromisoformat(previous) if previous else None
            reverted.append({**effect, "reverted": "interaction"})
        elif kind == "schedule_follow_up":
            appointment = session.get(Appointment, effect["appointment_id"])
            if appointment is not None and appointment.state == "scheduled":
                appointment.state = "cancelled"
            reverted.append({**effect, "reverted": "follow_up"})
        elif kind == "create_lead":
            session.execute(delete(Lead).where(Lead.id == effect["lead_id"],
                                               Lead.agent_id == agent.id))
            reverted.append({**effect, "reverted": "lead"})
    original.undone_by_plan_id = row.plan_id
    session.flush()
    return reverted


def _when(iso: str, zone: ZoneInfo) -> str:
    local = datetime.fromisoformat(iso).astimezone(zone)
    return local.strftime("%a %b %-d, %-I:%M %p")


def result_text(effects: list[dict], zone: ZoneInfo) -> str:
    """The agent's confirmation text, e.g. "✅ Done! The status for Sarah Smith has been
    updated from 'contacted' to 'qualified'."."""
    lines = []
    for effect in effects:
        kind = effect["type"]
        if kind == "update_status":
            if effect["history_id"] is None:
                lines.append(f"{effect['lead']} was already '{effect['new_status']}'.")
            else:
                lines.append(f"The status for {effect['lead']} has been updated from "
                             f"'{effect['old_status']}' to '{effect['new_status']}'.")
        elif kind == "log_interaction":
            note = f": {effect['note']}" if effect["note"] else ""
            lines.append(f"Logged {effect['interaction_type']} with {effect['lead']}{note}.")
        elif kind == "schedule_follow_up":
            lines.append(f"Follow-up with {effect['lead']} set: {effect['title']} — "
                         f"{_when(effect['due_at'], zone)}.")
        elif kind == "create_lead":
            lines.append(f"Added {effect['lead']} as a new lead.")
    if len(lines) == 1:
        return "✅ Done! " + lines[0]
    return "✅ Done!\n" + "\n".join(f"• {line}" for line in lines)


def undo_result_text(reverted: list[dict]) -> str:
    parts = undo_clauses(reverted, done=True)
    return "↩️ Undone: " + "; ".join(parts) + "." if parts else "↩️ Undone."
