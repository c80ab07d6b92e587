"""One agent message in, one `Turn` out: parse, then act on the kind.

Order of truth: a plan waiting for YES lives in Redis (losing it costs a retyped message); once
the agent says YES the plan is written to the database and committed *before* its task is
queued, so a broker outage or a dead worker can delay it but never lose it.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from db.models import ExecutedPlan, User
from db.session import Database
from webapp.conversation.lead_directories import lead_directory
from webapp.conversation.pending_plans import PendingPlan, PendingPlans
from webapp.conversation.recent_leads import RecentLeads
from webapp.conversation.reminder_answers import mark_done, snooze
from webapp.conversation.undo import describe_undo, last_undoable_plan
from webapp.crm.answers import answer_query
from webapp.ops import counters
from webapp.phones import region_of
from webapp.understanding.parser import (
    AgentContext,
    Parser,
    continue_clarify,
    parse_message,
)
from webapp.understanding.plan import Plan, action_to_dict

log = logging.getLogger(__name__)

CONFIRM_PROMPT = "Reply YES to confirm or NO to cancel."
TRY_AGAIN = (
    "Sorry, I can't process messages right now. Please try again in a minute — nothing changed."
)
NOTHING_PENDING = "Nothing is waiting for confirmation."
CONFIRMED = "👍 Confirmed and saved — working on it. I'll text you when it's done."
CONFIRMED_SLOW = ("👍 Confirmed and saved. I'm running slow right now; it will be done within a "
                  "few minutes and I'll text you.")

_region_of = functools.lru_cache(maxsize=1024)(region_of)  # pure; phonenumbers is slow

@dataclass
class Turn:
    """What to tell the agent now, and what happened."""

    reply: str
    kind: str
    plan_id: str | None = None
    queued: bool | None = None  # for confirm: the task reached the broker
    plan: Plan | None = None  # what the parser understood (voice words its reply from it)
    dispatch: Callable[[], bool] | None = None  # queue the confirmed plan (see handle())


@dataclass
class Conversation:
    db: Database
    pending: PendingPlans
    recent: RecentLeads
    enqueue_plan: Callable[[str], bool]
    default_country: str  # DEFAULT_COUNTRY: only for an agent's number with no known region
    parse: Parser = parse_message
    confirm_prompt: str = CONFIRM_PROMPT

    def queue_context(self, pipe: Any, phone: str) -> None:
        """Queue the Redis reads a turn starts with (the recent leads, and whether a clarify
        question waits) on the caller's pipeline, so they share its round trip; pass the
        pipeline's results for them to `handle` as `context`."""
        self.recent.queue_recall(pipe, phone)
        self.pending.queue_peek_clarify(pipe, phone)

    def handle(self, agent: User, text: str, channel: str, now: datetime | None = None, *,
               defer_dispatch: bool = False, context: Sequence[Any] | None = None) -> Turn:
        """Understand `text` from `agent` and act on it. Never raises for Redis/DB outages.

        A confirmed plan is queued here, unless `defer_dispatch`: then the caller runs
        `turn.dispatch()` once it has recorded its reply, so the agent's "Confirmed" is stored
        (and sent) before the worker's result can be. `context`: what `queue_context` read,
        when the caller already made that round trip.
        """
        now = now or datetime.now(UTC)
        try:
            turn = self._handle(agent, text, channel, now, context)
        except (RedisError, SQLAlchemyError):
            log.warning("conversation unavailable", exc_info=True,
                        extra={"agent_id": agent.id})
            return Turn(TRY_AGAIN, "unavailable")
        if turn.dispatch is not None and not defer_dispatch:
            turn.queued = turn.dispatch()
            turn.dispatch = None
            if not turn.queued:
                turn.reply = CONFIRMED_SLOW
        return turn

    def _handle(self, agent: User, text: str, channel: str, now: datetime,
                context: Sequence[Any] | None) -> Turn:
        zone = ZoneInfo(agent.timezone)
        leads = lead_directory(self.db, agent.id)
        if context is None:  # the caller (voice) did not prefetch: one round trip here
            pipe = self.pending.redis.pipeline(transaction=False)
            self.queue_context(pipe, agent.phone)
            context = pipe.execute()
        raw_recent, clarify_waiting = context
        # Only a look was read: taking stays atomic (of two messages, one continues).
        clarify = self.pending.take_clarify(agent.phone) if clarify_waiting else None
        ctx = AgentContext(
            leads=leads,
            timezone=zone,
            country=_region_of(agent.phone, self.default_country),
            recent_lead_ids=self.recent.decode(raw_recent),
        )
        local_now = now.astimezone(zone)
        if clarify is not None:
            plan = continue_clarify(text, clarify, ctx, local_now)
        else:
            plan = self.parse(text, ctx, local_now)
        if plan.kind != "plan":  # a plan's leads are remembered with it, in one round trip
            self.recent.remember(agent.phone, plan.mentioned_lead_ids)
        turn = self._act(agent, plan, channel, zone, now)
        turn.plan = plan
        return turn

    def _act(self, agent: User, plan: Plan, channel: str, zone: ZoneInfo, now: datetime) -> Turn:
        kind = plan.kind
        if kind == "plan":
            return self._offer(agent, plan, channel)
        if kind == "confirm":
            return self._confirm(agent, channel)
        if kind == "cancel":
            dropped = self.pending.take(agent.phone)
            reply = "Cancelled — nothing was changed." if dropped else "Nothing to cancel."
            return Turn(reply, kind)
        if kind == "undo":
            return self._offer_undo(agent, channel)
        if kind == "query":
            with self.db.session() as session:
                reply = answer_query(session, agent.id, plan.query or {}, zone, now)
            return Turn(reply, kind)
        if kind in ("done", "snooze"):
            return Turn(self._answer_reminder(agent, plan, channel, now), kind)
        if kind == "clarify" and plan.clarify is not None:
            self.pending.put_clarify(agent.phone, plan.clarify)
        return Turn(plan.reply, kind)

    def _answer_reminder(self, agent: User, plan: Plan, channel: str, now: datetime) -> str:
        details = plan.reminder or {}
        number = details.get("number")
        if plan.kind == "done":
            return mark_done(self.db, agent, number, channel, now)
        due_at = datetime.fromisoformat(details["due_at"])
        return snooze(self.db, agent, number, due_at, channel, now)

    def _offer(self, agent: User, plan: Plan, channel: str) -> Turn:
        pending = PendingPlan(
            plan_id=uuid.uuid4().hex,
            actions=[action_to_dict(a) for a in plan.actions],
            summary=plan.reply,
            channel=channel,
        )
        # What `remember` then `put` do, in one round trip (same order).
        pipe = self.pending.redis.pipeline(transaction=False)
        self.recent.remember(agent.phone, plan.mentioned_lead_ids, pipe)
        self.pending.queue_put(pipe, agent.phone, pending)
        replaced = pipe.execute()[-1] is not None
        reply = plan.reply
        if replaced:
            reply = "(This replaces your earlier unconfirmed request.) " + reply
        counters.count_plan("planned")
        return Turn(reply, "plan", pending.plan_id)

    def _offer_undo(self, agent: User, channel: str) -> Turn:
        with self.db.session() as session:
            last = last_undoable_plan(session, agent.id)
            description = describe_undo(last) if last else ""
        if last is None or not description:
            return Turn("There is nothing to undo.", "undo")
        pending = PendingPlan(
            plan_id=uuid.uuid4().hex,
            actions=[],
            summary=f"Undo: {description}.",
            channel=channel,
            undo_of=last.plan_id,
        )
        self.pending.put(agent.phone, pending)
        return Turn(f"Undo your last change: {description}. {self.confirm_prompt}", "undo",
                    pending.plan_id)

    def _confirm(self, agent: User, channel: str) -> Turn:
        pending = self.pending.take(agent.phone)
        if pending is None:
            counters.count_plan("expired")
            return Turn(NOTHING_PENDING, "confirm")
        try:
            with self.db.session() as session:
                session.add(
                    ExecutedPlan(
                        plan_id=pending.plan_id,
                        agent_id=agent.id,
                        channel=channel,
                        state="confirmed",
                        plan={"actions": pending.actions, "summary": pending.summary},
                        undoes_plan_id=pending.undo_of,
                    )
                )
                session.commit()
        except SQLAlchemyError:
            log.warning("could not record confirmation", exc_info=True,
                        extra={"plan_id": pending.plan_id})
            self.pending.put_back(agent.phone, pending)
            return Turn("Sorry, I couldn't save that just now. Your request is still waiting — "
                        "reply YES again in a minute.", "confirm")
        # The plan is safe in the database now: queueing can only make it faster, never lose it
        # (the recovery sweep queues whatever the broker did not get).
        plan_id = pending.plan_id
        counters.count_plan("confirmed")
        return Turn(CONFIRMED, "confirm", plan_id, dispatch=lambda: self.enqueue_plan(plan_id))
