"""One agent message in, one `Turn` out: parse, then act on the kind.

Order of truth: a plan waiting for YES lives in Redis (losing it costs a retyped message); once
the agent says YES the plan is written to the database and committed *before* its task is
queued, so a broker outage or a dead worker can delay it but never lose it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError
from sqlalchemy import false, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.models import ExecutedPlan, Lead, User
from db.session import Database
from webapp.conversation.drafting import Drafting
from webapp.conversation.lead_directories import lead_directory
from webapp.conversation.pending_plans import PendingPlan, PendingPlans
from webapp.conversation.prompts import Prompt, latest_prompt
from webapp.conversation.recent_leads import RecentLeads
from webapp.conversation.reminder_answers import (
    Reminder,
    complete,
    find_reminder,
    move,
)
from webapp.conversation.undo import describe_undo, last_undoable_plan
from webapp.crm.answers import Answer, answer
from webapp.crm.book_lookup import SqlBook
from webapp.crm.email_drafts import latest_draft
from webapp.crm.note_templates import templates_of
from webapp.crm.nudges import todays_nudges
from webapp.execution.plans import run_plan_now
from webapp.ops import counters
from webapp.phones import display_phone, region_of
from webapp.understanding import settings, templates
from webapp.understanding.corrections import match_correction
from webapp.understanding.drafts import DraftRef
from webapp.understanding.normalize import normalize, safe_lower
from webapp.understanding.nudge_numbers import may_name_a_nudge, with_names
from webapp.understanding.parser import (
    MONTH_FIRST_COUNTRIES,
    AgentContext,
    Parser,
    continue_clarify,
    parse_message,
)
from webapp.understanding.plan import (
    CreateLead,
    LogInteraction,
    Plan,
    ScheduleFollowUp,
    UpdateSettings,
    UpdateStatus,
    action_from_dict,
    action_to_dict,
)
from webapp.understanding.reminder_replies import match_reminder_reply
from webapp.understanding.replies import past_time, plan_reply

log = logging.getLogger(__name__)

CONFIRM_PROMPT = "Reply YES to confirm or NO to cancel."
TRY_AGAIN = (
    "Sorry, I can't process messages right now. Please try again in a minute — nothing changed."
)
NOTHING_PENDING = "Nothing is waiting for confirmation."
CONFIRMED = "👍 Confirmed and saved — working on it. I'll text you when it's done."
LOGIN_LINK = "Sign in to the Fieldline web app (the link works once, for 15 minutes): {url}"
LOGIN_LIMITED = ("You asked for several sign-in links just now. Use the latest one, or ask again "
                 "in a few minutes.")
LOGIN_OFF = "The web app is not available on this number."
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
    answer: Answer | None = None  # for a query: the answer's parts (voice reads a few aloud)
    dispatch: Callable[[], bool] | None = None  # queue the confirmed plan (see handle())
    link: str | None = None  # kind login: the one-time sign-in link the reply carries
    nothing_pending: bool = False  # a YES found no plan waiting (none, or it expired)


@dataclass
class Conversation:
    db: Database
    pending: PendingPlans
    recent: RecentLeads
    enqueue_plan: Callable[[str], bool]
    default_country: str  # DEFAULT_COUNTRY: only for an agent's number with no known region
    parse: Parser = parse_message
    confirm_prompt: str = CONFIRM_PROMPT
    # Makes a one-time sign-in link for the agent (None when they asked too often); given by
    # the app, which knows the web app. None: no web app here.
    login_link: Callable[[User, datetime], str | None] | None = None
    # Writes, stores and words an email draft (kind `draft`); None: templates, no link.
    drafting: Drafting | None = None

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
        if context is None:  # the caller (voice) did not prefetch: one round trip here
            pipe = self.pending.redis.pipeline(transaction=False)
            self.queue_context(pipe, agent.phone)
            context = pipe.execute()
        raw_recent, clarify_waiting = context
        recent = self.recent.read(raw_recent)
        created: list[int] = []
        if recent.created_by_plan:  # the previous message added a lead: once its plan ran,
            with self.db.session() as session:  # "her" is the new lead
                created = created_leads(session, agent.id, recent.created_by_plan)
        prompt = latest_prompt(self.db, agent.id, now, timedelta(seconds=self.recent.ttl))
        leads = lead_directory(self.db, agent.id, recheck=bool(created))
        if prompt is not None and prompt.lead_id and leads.get(prompt.lead_id) is None:
            leads = lead_directory(self.db, agent.id, recheck=True)  # a lead just added
        if prompt is not None and recent.at is not None and prompt.at.timestamp() <= recent.at:
            prompt = None  # the agent has written since: their own words lead
        recent_ids = [i for i in recent.lead_ids if i not in created] + created
        if prompt is not None and prompt.lead_id:
            # a reminder or new-lead alert came after the agent's last message: its lead is
            # "him" now
            recent_ids = [i for i in recent_ids if i != prompt.lead_id] + [prompt.lead_id]
        # Only a look was read: taking stays atomic (of two messages, one continues).
        clarify = self.pending.take_clarify(agent.phone) if clarify_waiting else None
        ctx = AgentContext(
            leads=leads,
            timezone=zone,
            country=_region_of(agent.phone, self.default_country),
            recent_lead_ids=recent_ids,
            book=SqlBook(self.db.session, agent.id),  # read only if the message needs it
            templates=functools.cache(lambda: self._templates(agent.id)),
            latest_draft=functools.cache(lambda: self._latest_draft(agent.id)),
        )
        local_now = now.astimezone(zone)
        if clarify is None and may_name_a_nudge(text):  # "2 is lost", after the agenda
            text = self._nudge_names(agent.id, text, local_now)
        if clarify is None:
            corrected = self._correction(agent, text, ctx, local_now)
            if corrected is not None:
                return corrected
        if clarify is not None:
            plan = continue_clarify(text, clarify, ctx, local_now)
        else:
            plan = self.parse(text, ctx, local_now)
        if plan.kind != "plan":  # a plan's leads are remembered with it, in one round trip
            self.recent.remember(agent.phone, plan.mentioned_lead_ids, at=now.timestamp())
        if plan.kind == "snooze" and _answers_alert(plan, text, prompt):
            # "remind me tomorrow at 9" right after a new-lead alert: about that lead, even
            # with an older reminder still open
            turn = self._remind_me_later(agent, plan, ctx, channel, now)
        elif plan.kind in ("done", "snooze"):
            turn = self._answer_reminder(agent, plan, text, ctx, channel, now)
        else:
            turn = self._act(agent, plan, channel, zone, now)
        turn.plan = turn.plan or plan
        return turn

    def _act(self, agent: User, plan: Plan, channel: str, zone: ZoneInfo, now: datetime) -> Turn:
        kind = plan.kind
        if kind == "plan":
            return self._offer(agent, plan, channel, now)
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
                found = answer(session, agent.id, plan.query or {}, zone, now)
            return Turn(found.text, kind, answer=found)
        if kind == "noop":
            # Every action would change nothing (already in that status, no such open
            # follow-up, nobody picked): the parser's reply says so; nothing is stored and a
            # plan still waiting for YES keeps waiting.
            return Turn(plan.reply, kind)
        if kind == "draft" and plan.draft is not None:
            drafting = self.drafting or Drafting(self.db)
            reply, plan.draft = drafting.draft(agent, plan.draft, now)
            return Turn(reply, kind if plan.draft is not None else "noop", plan=plan)
        if kind == "settings":
            return self._settings(agent, plan.settings or {}, channel, now)
        if kind == "login":
            url = self.login_link(agent, now) if self.login_link is not None else None
            if url is None:
                return Turn(LOGIN_OFF if self.login_link is None else LOGIN_LIMITED, kind)
            return Turn(LOGIN_LINK.format(url=url), kind, link=url)
        if kind == "clarify" and plan.clarify is not None:
            self.pending.put_clarify(agent.phone, plan.clarify)
        return Turn(plan.reply, kind)

    def _settings(self, agent: User, wanted: dict[str, bool], channel: str,
                  now: datetime) -> Turn:
        """"nudges off": set at once (no YES: a switch is as easily flipped back), through the
        path a confirmed plan takes, so UNDO works; "settings": what they are."""
        now_set = settings.current(agent)
        if not wanted:
            return Turn(f"Your settings: {settings.describe_short(now_set)}. "
                        f"{settings.SWITCHES}", "settings")
        if all(now_set.get(name) == value for name, value in wanted.items()):
            return Turn(f"No change: {settings.describe(wanted)}", "noop")
        outcome = run_plan_now(self.db, agent.id,
                               [action_to_dict(UpdateSettings(wanted))], channel,
                               summary=settings.describe_short(wanted), now=now)
        if outcome.state != "executed":
            return Turn(f"Sorry, I couldn't change that: {outcome.error}. Nothing was changed.",
                        "settings")
        for name, value in wanted.items():  # the caller's copy of the agent, for this turn
            setattr(agent, settings.COLUMNS[name], value)
        return Turn(settings.describe(wanted), "settings")

    # ---- replies to a reminder text ----------------------------------------------------------

    def _answer_reminder(self, agent: User, plan: Plan, text: str, ctx: AgentContext,
                         channel: str, now: datetime) -> Turn:
        """DONE / SNOOZE, with whatever the agent added ("done, talked to him, all good"): the
        reminder is closed or moved and the rest logged on its lead, at once; a change the
        rest asks for waits for YES as usual."""
        details = plan.reminder or {}
        number = details.get("number")
        found = find_reminder(self.db, agent, number)
        if isinstance(found, str):
            if plan.kind == "snooze" and number is None and not _said_snooze(text):
                return self._remind_me_later(agent, plan, ctx, channel, now)
            return Turn(found, plan.kind)
        self.recent.remember(agent.phone, [found.lead_id], at=now.timestamp())
        logs, rest = self._rest_of_answer(agent, details.get("rest") or "", found, ctx, now)
        if plan.kind == "done":
            reply = complete(self.db, agent, found, channel, now, logs)
        else:
            due_at = datetime.fromisoformat(details["due_at"])
            reply = move(self.db, agent, found, due_at, channel, now, logs)
        if rest is not None:  # more than logs: that part is asked or offered as any message
            turn = self._act(agent, rest, channel, ZoneInfo(agent.timezone), now)
            turn.reply = f"{reply}\n{turn.reply}"
            turn.plan = rest
            return turn
        waiting = self.pending.peek(agent.phone)
        if waiting is not None:  # a plan shown before the reminder still waits: say so
            reply += (f"\nStill waiting for your YES: {waiting.summary.splitlines()[0]} "
                      f"{self.confirm_prompt}")
        return Turn(reply, plan.kind)

    def _rest_of_answer(self, agent: User, rest: str, reminder: Reminder, ctx: AgentContext,
                        now: datetime) -> tuple[list[dict], Plan | None]:
        """What the agent said after DONE/SNOOZE, read with the reminder's lead as "him": the
        logs to run with it, and anything else (a plan to offer, a question to ask)."""
        if not rest:
            return [], None
        leads = ctx.leads
        if leads.get(reminder.lead_id) is None:  # added within the directory's recheck time
            leads = lead_directory(self.db, agent.id, recheck=True)
        about = dataclasses.replace(ctx, leads=leads, recent_lead_ids=[reminder.lead_id])
        plan = self.parse(rest, about, now.astimezone(ctx.timezone))
        if plan.kind == "plan":
            logs = [a for a in plan.actions if isinstance(a, LogInteraction)]
            others = [a for a in plan.actions if not isinstance(a, LogInteraction)]
            offer = None
            if others:
                offer = Plan(kind="plan", reply=plan_reply(others), actions=others,
                             mentioned_lead_ids=plan.mentioned_lead_ids)
            return [action_to_dict(a) for a in logs], offer
        if plan.kind in ("unknown", "confirm", "cancel", "help"):  # words only: a note
            note = templates.expand_note(rest.strip(" ,.;:!-"), about.templates(),
                                         leads.is_name_word)  # "done, lv"
            return [{"type": "log_interaction", "lead_id": reminder.lead_id,
                     "lead": reminder.lead, "interaction_type": "note",
                     "note": note}], None
        return [], plan

    def _remind_me_later(self, agent: User, plan: Plan, ctx: AgentContext, channel: str,
                         now: datetime) -> Turn:
        """"remind me in 2 hours" with no reminder waiting: about the last lead, else ask."""
        lead = next((lead for i in reversed(list(ctx.recent_lead_ids))
                     if (lead := ctx.leads.get(i)) is not None), None)
        if lead is None:
            return Turn('What should I remind you about? e.g. "Remind me to call Dana Cole in '
                        '2 hours".', "clarify")
        due_at = datetime.fromisoformat((plan.reminder or {})["due_at"])
        action = ScheduleFollowUp(lead.id, lead.name, due_at, f"Follow up with {lead.name}")
        offer = Plan(kind="plan", reply=plan_reply([action]), actions=[action],
                     mentioned_lead_ids=[lead.id])
        turn = self._offer(agent, offer, channel, now)
        turn.plan = offer
        return turn

    # ---- a correction to the plan waiting for YES -------------------------------------------

    def _correction(self, agent: User, text: str, ctx: AgentContext,
                    now: datetime) -> Turn | None:
        """"no I meant Friday at 11", "make it 4pm instead": the waiting plan, changed and
        shown again; None when the message is not a correction of it."""
        said = match_correction(text, now, ctx.country.upper() in MONTH_FIRST_COUNTRIES)
        if said is None:
            return None
        waiting = self.pending.peek(agent.phone)
        if waiting is None or waiting.undo_of:
            return None
        actions = [action_from_dict(a) for a in waiting.actions]
        changed = []
        for action in actions:
            if said.when is not None and isinstance(action, ScheduleFollowUp):
                if said.when.due_at is None:
                    return Turn(past_time(said.when.text, None), "clarify")
                due = said.due_for(action.due_at, now)
                if due <= now:
                    return Turn(past_time(said.when.text, due), "clarify")
                action = replace(action, due_at=due)
            elif said.status is not None and isinstance(action, UpdateStatus):
                action = replace(action, status=said.status)
            changed.append(action)
        if changed == actions:
            return None
        plan = Plan(kind="plan", reply="Changed: " + plan_reply(changed), actions=changed,
                    mentioned_lead_ids=[i for a in changed
                                        if (i := getattr(a, "lead_id", 0) or 0) > 0])
        turn = self._offer(agent, plan, waiting.channel, now, replacing=False)
        turn.plan = plan
        return turn

    def _offer(self, agent: User, plan: Plan, channel: str, now: datetime | None = None,
               replacing: bool = True) -> Turn:
        warnings = self._already_there(agent, plan)
        if warnings and warnings[0].startswith("!"):
            return Turn(warnings[0][1:], "plan")  # nothing to offer: execution would refuse it
        if warnings:
            plan.reply = "\n".join(warnings) + "\n" + plan.reply
        pending = PendingPlan(
            plan_id=uuid.uuid4().hex,
            actions=[action_to_dict(a) for a in plan.actions],
            summary=plan.reply,
            channel=channel,
        )
        # What `remember` then `put` do, in one round trip (same order).
        pipe = self.pending.redis.pipeline(transaction=False)
        creates = any(isinstance(a, CreateLead) for a in plan.actions)
        self.recent.remember(agent.phone, plan.mentioned_lead_ids, pipe,
                             created_by_plan=pending.plan_id if creates else None,
                             at=(now or datetime.now(UTC)).timestamp())
        self.pending.queue_put(pipe, agent.phone, pending)
        replaced = pipe.execute()[-1] is not None
        reply = plan.reply
        if replaced and replacing:
            reply = "(This replaces your earlier unconfirmed request.) " + reply
        counters.count_plan("planned")
        return Turn(reply, "plan", pending.plan_id)

    def _already_there(self, agent: User, plan: Plan) -> list[str]:
        """For each new lead: a lead with its phone already there (then "!" + why nothing is
        offered: a number belongs to one lead), or one with its name or email (a heads-up)."""
        out: list[str] = []
        news = [a for a in plan.actions if isinstance(a, CreateLead)]
        if not news:
            return out
        with self.db.session() as session:
            for new in news:
                same = session.execute(select(Lead.name, Lead.phone, Lead.email).where(
                    Lead.agent_id == agent.id,
                    or_(Lead.phone == new.phone if new.phone else false(),
                        func.lower(Lead.email) == new.email.lower() if new.email else false(),
                        func.lower(Lead.name) == new.name.lower()))).all()
                for name, phone, email in same:
                    shown = f" ({display_phone(phone)})" if phone else ""
                    if new.phone and phone == new.phone:
                        return [f"!You already have {name} with the number "
                                f"{display_phone(phone)}, so I didn't add {new.name}. "
                                f'To change {name}, text e.g. "Mark {name} as qualified".']
                    if new.email and email and email.lower() == new.email.lower():
                        out.append(f"Heads up: {new.email} is already {name}'s email{shown}.")
                    elif name.lower() == new.name.lower():
                        out.append(f"Heads up: you already have a lead named {name}{shown}. "
                                   "YES adds another.")
        return out

    def _nudge_names(self, agent_id: int, text: str, local_now: datetime) -> str:
        with self.db.session() as session:
            nudged = todays_nudges(session, agent_id, local_now.date())
        return with_names(text, nudged)

    def _templates(self, agent_id: int) -> dict[str, str]:
        with self.db.session() as session:
            return templates_of(session, agent_id)

    def _latest_draft(self, agent_id: int) -> DraftRef | None:
        with self.db.session() as session:
            return latest_draft(session, agent_id)

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
            expired = self.pending.take_expired(agent.phone)
            if expired is not None:
                return Turn(_expired(expired), "confirm", nothing_pending=True)
            return Turn(NOTHING_PENDING, "confirm", nothing_pending=True)
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


def created_leads(session: Session, agent_id: int, plan_id: str) -> list[int]:
    """The ids of the leads plan `plan_id` created, once it ran (none before)."""
    result = session.scalar(select(ExecutedPlan.result).where(
        ExecutedPlan.plan_id == plan_id, ExecutedPlan.agent_id == agent_id,
        ExecutedPlan.state == "executed"))
    return [int(e["lead_id"]) for e in (result or {}).get("effects", [])
            if e.get("type") == "create_lead" and e.get("lead_id")]


def _expired(offered: dict) -> str:
    """"Your change for Tom Reyes expired after 15 minutes; nothing was saved." """
    names = offered.get("leads") or []
    minutes = max(1, round(int(offered.get("ttl") or 0) / 60))
    what = ("Your undo" if offered.get("undo") else
            "Your change for " + " and ".join(names[:3]) if names else "Your change")
    return (f"{what} expired after {minutes} minute{'s' if minutes != 1 else ''}; nothing was "
            "saved. Send it again to redo it.")


def _answers_alert(plan: Plan, text: str, prompt: Prompt | None) -> bool:
    """Is this "remind me <when>" (not SNOOZE, no number) said to a new-lead alert, the
    assistant's latest text?"""
    return (prompt is not None and prompt.kind == "alert" and prompt.lead_id is not None
            and (plan.reminder or {}).get("number") is None and not _said_snooze(text))


def _said_snooze(text: str) -> bool:
    """Did the agent say SNOOZE outright (not "remind me in 2 hours")?"""
    said = match_reminder_reply(safe_lower(normalize(text)).strip())
    return said is None or said.explicit
