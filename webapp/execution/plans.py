"""Running a confirmed plan against the database: all of it in one transaction, exactly once.

The `executed_plans` row (state `confirmed`) is written by the conversation before any task is
queued. Running a plan first moves that row from `confirmed` to `executed` with a guarded UPDATE
in the same transaction as the plan's effects, so a redelivered or duplicated task finds nothing
to claim and changes nothing. Any failure rolls back every effect; the row then records why.

What each action does is its handler's business (`webapp.execution.handlers`); this module only
claims, runs the handlers in order (or their undos, newest first), records the outcome, and
announces each effect as a webhook event (`webapp.integrations.outbox`) in the same transaction,
so every channel's changes reach the agent's other systems, and none that rolled back does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from db.models import Appointment, ClientInteraction, ExecutedPlan, Lead, User
from db.session import Database
from webapp.execution.handlers import (
    HANDLERS,
    Effect,
    PlanRejected,
    PlanRun,
    handler_for,
)
from webapp.integrations import outbox
from webapp.integrations.representations import follow_up_json, interaction_json, lead_json
from webapp.ops import counters
from webapp.outbound.messages import queue_text
from webapp.understanding.plan import created_by

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    plan_id: str
    state: str  # executed | failed | already_done | missing
    message_id: int | None = None  # the result text queued for the agent
    effects: list[Effect] | None = None  # what an executed plan did (its `result`)
    error: str | None = None  # why a failed plan failed, as the agent is told


def run_plan_now(db: Database, agent_id: int, actions: list[dict], channel: str, *,
                 summary: str = "", undo_of: str | None = None, notify: bool = False,
                 now: datetime | None = None) -> Outcome:
    """Record a plan the agent confirmed some other way (a web form, an API call, a reply to
    a reminder) and run it here and now, through exactly the path a YES by text takes: the
    `executed_plans` row first, then the claim, the handlers, audit rows, one transaction.

    `notify`: text the agent the result, as a plan confirmed by text does. A database error
    leaves the plan `confirmed`, which the recovery sweep then runs; nothing is lost.
    """
    now = now or datetime.now(UTC)
    plan_id = uuid.uuid4().hex
    with db.session() as session:
        session.add(ExecutedPlan(plan_id=plan_id, agent_id=agent_id, channel=channel,
                                 state="confirmed", confirmed_at=now, undoes_plan_id=undo_of,
                                 plan={"actions": actions, "summary": summary,
                                       "notify": notify}))
        session.commit()
    counters.count_plan("confirmed")
    return run_confirmed_plan(db, plan_id, now)


def run_confirmed_plan(db: Database, plan_id: str, now: datetime | None = None) -> Outcome:
    """Run the plan `plan_id` if it is still `confirmed`; otherwise change nothing.

    Database errors that may pass (lost connection, lock timeout) propagate so the task retries;
    a plan that cannot be carried out ends `failed` and the agent is told nothing changed.

    The run is counted (`attempts`, `started_at`) and committed before the claim's transaction
    begins: a worker killed mid-run rolls its claim back, but its attempt still counts, and
    MAX_PLAN_ATTEMPTS bounds exactly these (never how often the sweep re-queued the plan).
    """
    now = now or datetime.now(UTC)
    if not _start_attempt(db, plan_id, now):
        with db.session() as session:
            state = session.scalar(
                select(ExecutedPlan.state).where(ExecutedPlan.plan_id == plan_id)
            )
        return Outcome(plan_id, "already_done" if state else "missing")
    with db.session() as session:
        claimed = session.execute(
            update(ExecutedPlan)
            .where(ExecutedPlan.plan_id == plan_id, ExecutedPlan.state == "confirmed")
            .values(state="executed", executed_at=now)
        ).rowcount
        if claimed != 1:
            state = session.scalar(
                select(ExecutedPlan.state).where(ExecutedPlan.plan_id == plan_id)
            )
            return Outcome(plan_id, "already_done" if state else "missing")
        row = session.scalar(select(ExecutedPlan).where(ExecutedPlan.plan_id == plan_id))
        agent = session.get(User, row.agent_id)
        run = PlanRun(session, agent, plan_id, row.channel, now)
        try:
            if row.undoes_plan_id:
                effects = _undo(run, row.undoes_plan_id)
                text = undo_result_text(effects)
            else:
                effects = _apply(run, row.plan.get("actions", []))
                text = result_text(effects, run.zone)
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
        message_id = None
        if row.plan.get("notify", True):
            message_id = queue_text(
                session, agent_id=agent.id, phone=agent.phone, body=text, plan_id=plan_id,
                channel="sms",
            ).id
        session.commit()
        counters.count_plan("executed")
        return Outcome(plan_id, "executed", message_id, effects=effects)


def _start_attempt(db: Database, plan_id: str, now: datetime) -> bool:
    """Count one run of a still-`confirmed` plan, committed at once; False when there is
    nothing to run (already executed or failed, or no such plan)."""
    with db.session() as session:
        started = session.execute(
            update(ExecutedPlan)
            .where(ExecutedPlan.plan_id == plan_id, ExecutedPlan.state == "confirmed")
            .values(attempts=ExecutedPlan.attempts + 1, started_at=now)
        ).rowcount
        session.commit()
    return started == 1


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
        message_id = None
        if row.plan.get("notify", True):
            message_id = queue_text(
                session,
                agent_id=agent.id,
                phone=agent.phone,
                body=f"❌ Sorry, I couldn't do that: {reason}. Nothing was changed.",
                plan_id=plan_id,
            ).id
        session.commit()
        counters.count_plan("failed")
        return Outcome(plan_id, "failed", message_id, error=reason)


def _apply(run: PlanRun, actions: list[dict]) -> list[Effect]:
    effects: list[Effect] = []
    for action in actions:
        index = created_by(action.get("lead_id"))
        if index is not None:  # about the lead an earlier action of this plan created
            if index >= len(effects) or effects[index].get("type") != "create_lead":
                raise PlanRejected("that lead no longer exists")
            action = {**action, "lead_id": effects[index]["lead_id"]}
        effects.append(handler_for(action["type"]).apply(run, action))
    run.session.flush()
    for effect in effects:
        handler = HANDLERS[effect["type"]]
        if handler.event and handler.reverts(effect):  # a change of nothing: no event
            _announce(run, handler.event, effect)
    return effects


def _announce(run: PlanRun, event_type: str, effect: Effect) -> None:
    """Put `event_type` about the effect's object, as it is now, in the webhook outbox."""
    subject, _, _ = event_type.partition(".")
    lead_id = effect.get("lead_id")
    data: dict | None = None
    if event_type.endswith(".deleted"):
        key = "lead_id" if subject == "lead" else f"{subject}_id"
        data = {"id": effect[key], "lead_id": lead_id, "deleted": True}
    elif subject == "lead":
        lead = run.session.get(Lead, lead_id)
        data = lead_json(lead) if lead is not None else None
    elif subject == "interaction":
        interaction = run.session.get(ClientInteraction, effect["interaction_id"])
        data = interaction_json(interaction) if interaction is not None else None
    elif subject == "follow_up":
        appointment = run.session.get(Appointment, effect["appointment_id"])
        data = follow_up_json(appointment) if appointment is not None else None
    if data is not None:
        outbox.emit(run.session, run.agent.id, event_type, data, lead_id=lead_id,
                    happened_at=run.now)


def _undo(run: PlanRun, original_plan_id: str) -> list[Effect]:
    """Revert an executed plan's effects, newest first; each handler knows its own undo."""
    original = run.session.scalar(
        select(ExecutedPlan).where(ExecutedPlan.plan_id == original_plan_id).with_for_update()
    )
    if original is None or original.agent_id != run.agent.id or original.state != "executed":
        raise PlanRejected("there is nothing to undo")
    if original.undone_by_plan_id:
        raise PlanRejected("that was already undone")
    reverted: list[Effect] = []
    announce: list[tuple[str, Effect]] = []
    for effect in reversed((original.result or {}).get("effects", [])):
        handler = HANDLERS.get(effect["type"])
        if handler is not None and handler.reverts(effect):
            changed = handler.undo(run, effect) is not False
            reverted.append({**effect, "reverted": True})
            if changed and handler.undo_event:
                announce.append((handler.undo_event, effect))
    original.undone_by_plan_id = run.plan_id
    run.session.flush()
    for event_type, effect in announce:
        _announce(run, event_type, effect)
    return reverted


def undo_clauses(effects: Iterable[Effect], done: bool) -> list[str]:
    """One clause per effect an undo reverts, in the order given ("set Dana Cole back to
    'qualified'" as an offer, "Dana Cole is back to 'qualified'" once done)."""
    clauses = []
    for effect in effects:
        handler = HANDLERS.get(effect["type"])
        if handler is not None and handler.reverts(effect):
            template = handler.undo_done if done else handler.undo_offer
            clauses.append(template.format(**effect))
    return clauses


def result_text(effects: list[Effect], zone: ZoneInfo) -> str:
    """The agent's confirmation text, e.g. "✅ Done! The status for Sarah Smith has been
    updated from 'contacted' to 'qualified'."."""
    lines = [HANDLERS[effect["type"]].result_line(effect, zone) for effect in effects]
    if len(lines) == 1:
        return "✅ Done! " + lines[0]
    return "✅ Done!\n" + "\n".join(f"• {line}" for line in lines)


def undo_result_text(reverted: list[Effect]) -> str:
    parts = undo_clauses(reverted, done=True)
    return "↩️ Undone: " + "; ".join(parts) + "." if parts else "↩️ Undone."
