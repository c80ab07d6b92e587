"""One phone call with the assistant, turn by turn, kept out of the Flask handler.

A call is a series of Twilio <Gather> results. Everything the agent says (or keys in) goes
through the same `Conversation.handle` as a text, so the voice channel has no parser and no
confirmation logic of its own. What this module adds is what only a call needs:

* call state in Redis keyed by CallSid (with a TTL): how many turns and silences, what answer we
  are waiting for (a command, yes/no, a numbered choice, or "I heard: ... is that right?");
* keypad answers mapped to words (1 = yes, 2 = no; digits pass through for numbered choices);
* a check of Twilio's speech confidence before acting on what we think we heard;
* after YES, a bounded wait for the worker's outcome so it can be said, not only texted;
* endings that always say what was (not) done: two silences, too many turns, or "that's all".

Every turn is stored in `messages` (inbound: what was heard; outbound: what was said), with
the call's CallSid in `call_sid` (a call has many turns; `provider_sid`, unique, stays empty).

A webhook Twilio delivers twice (its retry, or a replay of the same signed request) is a turn
taken once: its I-Twilio-Idempotency-Token is claimed in Redis, and the second delivery gets
the first one's answer again, with nothing stored or done twice (`CallStates.claim_turn`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from db.models import ExecutedPlan, Lead, Message, User
from db.session import Database
from db.vocabulary import STATUSES
from webapp.channels.voice import speech
from webapp.conversation.conversation import TRY_AGAIN, Conversation, Turn
from webapp.crm.agents import find_agent
from webapp.understanding.intents import detect_intent

log = logging.getLogger(__name__)

STATE_KEY = "fl:voice:call:{sid}"
TURN_KEY = "fl:voice:turn:{sid}:{token}"  # a delivered webhook's idempotency token, its reply
CALL_TTL = 4 * 60 * 60  # Twilio ends any call after 4 hours; state never outlives one

# Twilio <Gather hints>: a comma-separated list of at most 500 entries, each at most 100
# characters (Twilio warning 13330). The character budget is ours: it keeps the TwiML document
# small (Twilio refuses documents over 64 kB) while leaving room for hundreds of names.
MAX_HINTS = 500
MAX_HINT_CHARS = 100
MAX_HINTS_TOTAL_CHARS = 10_000

COMMAND_HINTS: tuple[str, ...] = (
    *(s.replace("_", " ") for s in STATUSES),
    "yes", "no", "cancel", "undo", "help", "agenda", "what's on my agenda",
    "status", "mark", "update", "remind me", "follow up", "schedule", "new lead",
    "called", "met", "meeting", "viewing", "showing", "emailed", "texted", "add a note",
    "went well", "no answer", "tomorrow", "morning", "afternoon", "evening", "tonight",
    "that's all", "login", "dashboard", "web app",
    "save template", "templates", "delete template", "draft an email", "thank-you note", "log it",
)

# What "Anything else?" may be answered with to end the call (a plain no is not a cancel here:
# nothing is waiting when we ask it).
_CLOSING = frozenset({
    "no", "nope", "nah", "no thanks", "no thank you", "nothing", "nothing else", "that's all",
    "thats all", "that's it", "thats it", "that is all", "that is it", "i'm done", "im done",
    "done", "all done", "i'm good", "im good", "bye", "goodbye", "good bye", "bye bye",
    "hang up", "end call", "end the call", "no that's all", "no that's it", "no thats all",
    "no thats it", "no i'm good", "no im good", "that'll be all", "thatll be all",
})

Expect = str  # "command" | "confirm" | "choice" | "heard"

LOGIN_TEXTED = "I've texted you a link to sign in to the web app. It works once, for 15 minutes."


@dataclass
class CallState:
    """What a call is waiting for, between two webhooks."""

    agent_id: int
    turns: int = 0
    silences: int = 0
    expect: Expect = "command"
    plan_id: str | None = None  # the plan offered in this call and waiting for yes
    heard: str | None = None  # low-confidence text awaiting "is that right?"
    before_heard: Expect = "command"
    prompt: str = speech.WHAT_TO_DO  # asked again after a silence
    numbered: bool = False  # the question pending is a numbered list ("one" means "1")


@dataclass
class VoiceReply:
    """What to say next, and whether to listen again or hang up."""

    say: list[str]
    listen: bool = True
    hangup: bool = False
    hints: str = ""
    plan_id: str | None = None


class CallStates:
    """Call state in Redis: lost state only costs the call its counters, never a change."""

    def __init__(self, redis: Redis, ttl: int = CALL_TTL) -> None:
        self.redis = redis
        self.ttl = ttl

    def load(self, call_sid: str) -> CallState | None:
        raw = self.redis.get(STATE_KEY.format(sid=call_sid))
        if not raw:
            return None
        try:
            return CallState(**json.loads(raw))
        except (TypeError, ValueError):
            return None

    def save(self, call_sid: str, state: CallState) -> None:
        self.redis.set(STATE_KEY.format(sid=call_sid), json.dumps(asdict(state)), ex=self.ttl)

    def take(self, call_sid: str) -> CallState | None:
        """Remove and return the state (a status callback acts on it once)."""
        raw = self.redis.getdel(STATE_KEY.format(sid=call_sid))
        try:
            return CallState(**json.loads(raw)) if raw else None
        except (TypeError, ValueError):
            return None

    def claim_turn(self, call_sid: str, token: str | None) -> bool:
        """True when the webhook carrying `token` is seen for the first time (and so is to be
        acted on); also True without a token, or with Redis down (as for SMS: only this check
        is skipped)."""
        if not token:
            return True
        try:
            return bool(self.redis.set(_turn_key(call_sid, token), "", nx=True, ex=self.ttl))
        except RedisError:
            return True

    def remember_reply(self, call_sid: str, token: str | None, reply: VoiceReply) -> None:
        """Keep the answer to the webhook carrying `token`, for a second delivery of it."""
        if not token:
            return
        try:
            self.redis.set(_turn_key(call_sid, token), json.dumps(asdict(reply)), xx=True,
                           ex=self.ttl)
        except RedisError:
            log.warning("could not keep a voice turn's reply", exc_info=True)

    def replayed_reply(self, call_sid: str, token: str) -> VoiceReply | None:
        """The answer given to the first delivery of `token`, or None while that one is still
        being answered (or its answer was lost)."""
        try:
            raw = self.redis.get(_turn_key(call_sid, token))
            return VoiceReply(**json.loads(raw)) if raw else None
        except (RedisError, TypeError, ValueError):
            return None


def _turn_key(call_sid: str, token: str) -> str:
    return TURN_KEY.format(sid=call_sid, token=token[:128])


def clean_hint(text: str) -> str:
    """One hint entry: words separated by single spaces, no commas (the separator), ≤100 chars."""
    words = re.sub(r"[^\w' .-]", " ", text).replace(",", " ").split()
    out = ""
    for word in words:
        candidate = f"{out} {word}" if out else word
        if len(candidate) > MAX_HINT_CHARS:
            break
        out = candidate
    return out


def build_hints(lead_names: Iterable[str], commands: Iterable[str] = COMMAND_HINTS) -> str:
    """The <Gather hints> value: command words first, then lead names, within Twilio's limits.

    Names come in the order given (most recently worked first), so a large book loses its
    oldest, least likely names rather than the ones the agent is busy with.
    """
    seen: set[str] = set()
    entries: list[str] = []
    total = 0
    for raw in (*commands, *lead_names):
        hint = clean_hint(raw)
        key = hint.casefold()
        if not hint or key in seen:
            continue
        cost = len(hint) + (2 if entries else 0)  # ", " between entries
        if len(entries) >= MAX_HINTS or total + cost > MAX_HINTS_TOTAL_CHARS:
            break
        seen.add(key)
        entries.append(hint)
        total += cost
    return ", ".join(entries)


def digits_to_text(digits: str, expect: Expect) -> str | None:
    """A keypad answer as words: the digit itself for numbered choices, else 1 = yes, 2 = no."""
    digits = digits.strip()
    if not digits:
        return None
    if expect == "choice":
        return digits
    return {"1": "yes", "2": "no"}.get(digits)


_ORDINALS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "to": 2, "too": 2, "for": 4, "won": 1,
}
_CHOICE = re.compile(
    r"(?:(?:it's|its|it is|pick|choose|the|number|option|choice|#)\s+)*"
    r"(?P<n>\d{1,2}|[a-z]+)(?:\s+(?:one|please))*"
)


def spoken_choice(text: str) -> str | None:
    """'one', 'number two', 'the first one', '3' -> '1', '2', '1', '3' (speech-to-text writes
    numbers either way); None when the answer is not a bare choice (e.g. 'John Doe')."""
    match = _CHOICE.fullmatch(_canonical(text))
    if match is None:
        return None
    said = match["n"]
    if said.isdigit():
        return said
    number = _ORDINALS.get(said)
    return str(number) if number else None


def _canonical(text: str) -> str:
    text = text.casefold().replace("’", "'")
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text)).strip()


def is_closing(text: str) -> bool:
    return _canonical(text) in _CLOSING


@dataclass
class VoiceCalls:
    """The call logic: `answer` an incoming call, then `gather` each result, `ended` at the end."""

    db: Database
    conversation: Conversation
    states: CallStates
    default_region: str  # DEFAULT_COUNTRY: a caller id without its country code
    min_confidence: float = 0.5
    result_wait: float = 4.0
    max_turns: int = 20
    poll_interval: float = 0.2
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    send_text: Callable[[User, str, str | None], None] | None = field(default=None)

    # --- entry points ---------------------------------------------------------------------

    def caller(self, from_phone: str) -> User | None:
        """The agent calling (detached), by caller id normalized like an SMS sender's."""
        with self.db.session() as session:
            agent = find_agent(session, from_phone or "", self.default_region)
            if agent is not None:
                session.expunge(agent)
            return agent

    def answer(self, call_sid: str, from_phone: str,
               idempotency_token: str | None = None) -> VoiceReply:
        """An incoming call: a short refusal for strangers, a greeting for an agent."""
        return self._once(call_sid, idempotency_token,
                          lambda: self._answer(call_sid, from_phone))

    def _answer(self, call_sid: str, from_phone: str) -> VoiceReply:
        try:
            agent = self.caller(from_phone)
        except SQLAlchemyError:
            log.warning("could not look up a caller", exc_info=True)
            return VoiceReply([speech.speakable(TRY_AGAIN), speech.GOODBYE], listen=False,
                              hangup=True)
        self._record(agent, from_phone, call_sid, "inbound", "(incoming call)")
        if agent is None:
            reply = VoiceReply([speech.UNKNOWN_CALLER], listen=False, hangup=True)
            self._record(None, from_phone, call_sid, "outbound", speech.UNKNOWN_CALLER)
            return reply
        state = CallState(agent_id=agent.id)
        return self._finish(agent, call_sid, state,
                            VoiceReply([speech.greeting(agent.name)]))

    def gather(self, call_sid: str, from_phone: str, speech_result: str,
               confidence: str, digits: str, idempotency_token: str | None = None
               ) -> VoiceReply:
        """One <Gather> result (speech, keys, or nothing) in, what to say next out.

        Never raises for a Redis or database outage: the caller hears that nothing changed
        and the call ends, instead of Twilio's "application error". A second delivery of the
        same webhook (same `idempotency_token`) is answered as the first, doing nothing."""

        def turn() -> VoiceReply:
            try:
                return self._gather(call_sid, from_phone, speech_result, confidence, digits)
            except (RedisError, SQLAlchemyError):
                log.warning("voice turn failed", exc_info=True, extra={"call_sid": call_sid})
                return VoiceReply([speech.speakable(TRY_AGAIN), speech.GOODBYE],
                                  listen=False, hangup=True)

        return self._once(call_sid, idempotency_token, turn)

    def _once(self, call_sid: str, token: str | None,
              turn: Callable[[], VoiceReply]) -> VoiceReply:
        """Run `turn` for the first delivery of a webhook only; a repeat gets its answer."""
        if self.states.claim_turn(call_sid, token):
            reply = turn()
            self.states.remember_reply(call_sid, token, reply)
            return reply
        log.info("repeated voice webhook answered again, nothing done",
                 extra={"call_sid": call_sid})
        replayed = self.states.replayed_reply(call_sid, token or "")
        if replayed is not None:
            return replayed
        # The first delivery is still being answered (Twilio gave up waiting on it): ask again
        # rather than act twice.
        return VoiceReply([speech.SAY_AGAIN])

    def _gather(self, call_sid: str, from_phone: str, speech_result: str,
                confidence: str, digits: str) -> VoiceReply:
        agent = self.caller(from_phone)
        if agent is None:
            return VoiceReply([speech.UNKNOWN_CALLER], listen=False, hangup=True)
        try:
            state = self.states.load(call_sid)
        except RedisError:
            log.warning("voice call state unavailable", exc_info=True)
            return self._unavailable(agent, call_sid)
        if state is None or state.agent_id != agent.id:
            state = CallState(agent_id=agent.id)
        state.turns += 1
        speech_result = (speech_result or "").strip()
        digits = (digits or "").strip()

        if not speech_result and not digits:
            return self._silence(agent, call_sid, state)
        state.silences = 0
        heard = speech_result or f"(pressed {digits})"
        self._record(agent, agent.phone, call_sid, "inbound", heard)
        if state.turns > self.max_turns:
            return self._end(agent, call_sid, state,
                             "That's all I can take in one call. Call back any time.")

        if digits and not speech_result:
            text = digits_to_text(digits, state.expect)
            if text is None:
                keys = ("press 1 for yes or 2 for no" if state.expect in ("confirm", "heard")
                        else "please say what you'd like to do")
                return self._finish(agent, call_sid, state,
                                    VoiceReply([f"Sorry, that key doesn't do anything here; "
                                                f"{keys}."]))
            if state.expect == "heard":
                return self._heard_answer(agent, call_sid, state, text == "yes")
            return self._understood(agent, call_sid, state, text)

        if state.expect == "heard":
            intent = detect_intent(speech_result)
            if intent in ("confirm", "cancel"):
                return self._heard_answer(agent, call_sid, state, intent == "confirm")
        if self._low_confidence(confidence):
            if state.expect != "heard":
                state.before_heard = state.expect
            state.expect = "heard"
            state.heard = speech_result
            state.prompt = speech.IS_THAT_RIGHT
            return self._finish(agent, call_sid, state, VoiceReply(
                [f"I heard: {speech.speakable(speech_result).rstrip('.!?, ')}. "
                 f"{speech.IS_THAT_RIGHT}"]))
        if state.expect == "choice" and state.numbered:
            speech_result = spoken_choice(speech_result) or speech_result
        return self._understood(agent, call_sid, state, speech_result)

    def ended(self, call_sid: str, call_status: str) -> bool:
        """Twilio's call status callback: when the agent hung up while a plan offered in this
        call still waits for yes, text them the plan so they can still confirm or cancel it.
        True when such a text was queued."""
        if call_status not in ("completed", "busy", "failed", "no-answer", "canceled"):
            return False
        state = self.states.take(call_sid)
        if state is None or state.expect != "confirm" or not state.plan_id:
            return False
        with self.db.session() as session:
            agent = session.get(User, state.agent_id)
            if agent is not None:
                session.expunge(agent)
        if agent is None:
            return False
        pending = self.conversation.pending.peek(agent.phone)
        if pending is None or pending.plan_id != state.plan_id:
            return False
        body = f"Your call ended before you confirmed. {pending.summary}"
        if self.send_text is not None:
            self.send_text(agent, body, pending.plan_id)
        return True

    # --- one turn -------------------------------------------------------------------------

    def _understood(self, agent: User, call_sid: str, state: CallState, text: str) -> VoiceReply:
        if state.expect == "command" and is_closing(text) and not state.plan_id:
            return self._end(agent, call_sid, state, None)
        turn = self.conversation.handle(agent, text, "voice")
        if turn.kind == "unavailable":
            return self._unavailable(agent, call_sid, turn)
        return self._finish(agent, call_sid, state, self._after_turn(agent, state, turn))

    def _heard_answer(self, agent: User, call_sid: str, state: CallState,
                      right: bool) -> VoiceReply:
        heard, state.heard = state.heard or "", None
        state.expect = state.before_heard
        if right and heard:
            return self._understood(agent, call_sid, state, heard)
        state.prompt = (speech.CONFIRM_PROMPT if state.expect == "confirm"
                        else "Please say it again.")
        return self._finish(agent, call_sid, state,
                            VoiceReply(["Sorry about that. Please say it again."]))

    def _after_turn(self, agent: User, state: CallState, turn: Turn) -> VoiceReply:
        zone = ZoneInfo(agent.timezone)
        now = datetime.now(UTC).astimezone(zone)
        kind = turn.kind
        if kind in ("plan", "undo") and turn.plan_id:
            if kind == "plan" and turn.plan is not None and turn.plan.actions:
                replaced = turn.reply.startswith("(This replaces")
                said = speech.say_plan(turn.plan.actions, now, replaced)
            else:
                said = speech.speakable(turn.reply, now)
            state.expect, state.plan_id, state.prompt = "confirm", turn.plan_id, \
                speech.CONFIRM_PROMPT
            return VoiceReply([said], plan_id=turn.plan_id)
        if kind == "confirm":
            return self._confirmed(agent, state, turn, zone)
        if kind == "cancel":
            state.expect, state.plan_id, state.prompt = "command", None, speech.WHAT_TO_DO
            return VoiceReply([speech.speakable(turn.reply), speech.ANYTHING_ELSE])
        if kind == "clarify":
            said = speech.speakable(turn.reply, now)
            clarify = (turn.plan.clarify if turn.plan else None) or {}
            state.expect, state.prompt = "choice", said
            state.numbered = bool(clarify.get("options")) or clarify.get("type") == "status"
            return VoiceReply([said])
        if kind == "login":
            said = [self._text_login_link(agent, turn, now)]
        elif kind == "draft" and turn.plan is not None and turn.plan.draft is not None:
            said = [self._text_draft(agent, turn)]
        elif kind == "help":
            said = [speech.HELP]
        elif kind == "unknown":
            said = [speech.UNKNOWN]
        elif kind == "query":
            said = [self._say_answer(agent, turn, now)]
        else:  # unknown_lead and anything new: the conversation's own words, spoken
            said = [speech.speakable(turn.reply, now)]
        return VoiceReply(said + self._still_waiting_or_more(agent, state))

    def _text_login_link(self, agent: User, turn: Turn, now: datetime) -> str:
        """A sign-in link is texted, never spoken: say that it was sent."""
        if turn.link is None:  # none made (asked too often): the conversation's own words
            return speech.speakable(turn.reply, now)
        if agent.opted_out or self.send_text is None:
            return ("I can't text you the link while texts from me are stopped. Text START, "
                    "then ask again.")
        self.send_text(agent, turn.reply, None)
        return LOGIN_TEXTED

    def _text_draft(self, agent: User, turn: Turn) -> str:
        """An email draft is texted (the subject, first lines and the link), and said briefly."""
        can_text = self.send_text is not None and not agent.opted_out
        if can_text and self.send_text is not None:
            self.send_text(agent, turn.reply, None)
        return speech.say_draft(turn.plan.draft if turn.plan else {}, texted=can_text)

    def _say_answer(self, agent: User, turn: Turn, now: datetime) -> str:
        """Read a briefing or a list back briefly, and text the whole answer when some of it
        went unsaid (an agent who opted out of texts hears how many more there are)."""
        if turn.answer is None:
            return speech.speakable(turn.reply, now)
        can_text = self.send_text is not None and not agent.opted_out
        said, left_out = speech.say_answer(turn.answer, now, texted=can_text)
        if left_out and can_text and self.send_text is not None:
            self.send_text(agent, turn.answer.text, None)
        return said

    def _still_waiting_or_more(self, agent: User, state: CallState) -> list[str]:
        """After an answer that changed nothing: remind of a plan still waiting, else ask on."""
        if state.plan_id:
            pending = self.conversation.pending.peek(agent.phone)
            if pending is not None and pending.plan_id == state.plan_id:
                state.expect, state.prompt = "confirm", speech.CONFIRM_PROMPT
                return [f"Your earlier request is still waiting. {speech.CONFIRM_PROMPT}"]
        state.expect, state.plan_id, state.prompt = "command", None, speech.WHAT_TO_DO
        return [speech.ANYTHING_ELSE]

    def _confirmed(self, agent: User, state: CallState, turn: Turn, zone: ZoneInfo) -> VoiceReply:
        if turn.plan_id is None:
            if not turn.nothing_pending:  # not saved: the plan was put back for a retry
                state.expect, state.prompt = "confirm", speech.CONFIRM_PROMPT
                return VoiceReply([speech.speakable(turn.reply)])
            state.expect, state.plan_id, state.prompt = "command", None, speech.WHAT_TO_DO
            return VoiceReply([speech.speakable(turn.reply), speech.ANYTHING_ELSE])
        state.expect, state.plan_id, state.prompt = "command", None, speech.WHAT_TO_DO
        texted = "" if agent.opted_out else " I'm texting you the summary too."
        outcome = self.wait_for_outcome(turn.plan_id) if turn.queued else None
        if outcome is None:
            if turn.queued:
                said = "Confirmed. It's taking a little longer than usual"
                said += "." if agent.opted_out else ", so I'll text you the result."
            else:
                said = ("Confirmed and saved. I'm running slow right now; it will be done "
                        "within a few minutes")
                said += "." if agent.opted_out else " and I'll text you."
        elif outcome["state"] == "executed":
            effects = (outcome.get("result") or {}).get("effects", [])
            said = speech.say_result(effects, zone, datetime.now(UTC)) + texted
        else:
            reason = speech.speakable(outcome.get("error") or "something went wrong")
            said = f"Sorry, I couldn't do that: {reason}. Nothing was changed.{texted}"
        return VoiceReply([said, speech.ANYTHING_ELSE], plan_id=turn.plan_id)

    def wait_for_outcome(self, plan_id: str) -> dict[str, Any] | None:
        """Poll `executed_plans` until the plan is executed or failed, for at most
        `result_wait` seconds (Twilio waits 15 s for a webhook; the caller hears silence)."""
        deadline = self.clock() + max(0.0, self.result_wait)
        while True:
            try:
                with self.db.session() as session:
                    row = session.execute(
                        select(ExecutedPlan.state, ExecutedPlan.result, ExecutedPlan.error)
                        .where(ExecutedPlan.plan_id == plan_id)
                    ).one_or_none()
            except SQLAlchemyError:
                log.warning("could not read plan outcome", exc_info=True)
                row = None
            if row is not None and row.state in ("executed", "failed"):
                return {"state": row.state, "result": row.result, "error": row.error}
            if self.clock() >= deadline:
                return None
            self.sleep(self.poll_interval)

    # --- silences and endings -------------------------------------------------------------

    def _silence(self, agent: User, call_sid: str, state: CallState) -> VoiceReply:
        state.silences += 1
        self._record(agent, agent.phone, call_sid, "inbound", "(silence)")
        if state.silences >= 2 or state.turns > self.max_turns:
            return self._end(agent, call_sid, state, "I didn't hear anything.")
        return self._finish(agent, call_sid, state,
                            VoiceReply([f"Sorry, I didn't catch that. {state.prompt}"]))

    def _end(self, agent: User, call_sid: str, state: CallState,
             lead_in: str | None) -> VoiceReply:
        """Hang up, first saying what was not done if anything was still open."""
        said = [lead_in] if lead_in else []
        try:
            if state.plan_id:  # a plan offered in this call (maybe behind "is that right?")
                if self._drop_plan(agent, state.plan_id):
                    said.append("Your last request was not confirmed, so nothing was changed.")
            elif state.expect == "choice":
                self.conversation.pending.drop_clarify(agent.phone)
                said.append("Your last request was not finished, so nothing was changed.")
            elif state.expect == "heard":
                said.append("Nothing was changed.")
        except RedisError:
            log.warning("could not drop a call's pending request", exc_info=True)
        said.append(speech.GOODBYE)
        state.expect, state.plan_id = "command", None
        return self._finish(agent, call_sid, state, VoiceReply(said, listen=False, hangup=True))

    def _drop_plan(self, agent: User, plan_id: str) -> bool:
        """Drop the pending plan if it is the one this call offered (not a newer one)."""
        pending = self.conversation.pending.take(agent.phone)
        if pending is None:
            return False
        if pending.plan_id != plan_id:
            self.conversation.pending.put_back(agent.phone, pending)
            return False
        return True

    def _unavailable(self, agent: User, call_sid: str, turn: Turn | None = None) -> VoiceReply:
        said = [speech.speakable(turn.reply if turn else TRY_AGAIN), speech.GOODBYE]
        self._record(agent, agent.phone, call_sid, "outbound", " ".join(said))
        return VoiceReply(said, listen=False, hangup=True)

    # --- bookkeeping ----------------------------------------------------------------------

    def _finish(self, agent: User, call_sid: str, state: CallState,
                reply: VoiceReply) -> VoiceReply:
        try:
            if reply.hangup:
                self.states.take(call_sid)
            else:
                self.states.save(call_sid, state)
        except RedisError:
            log.warning("could not save voice call state", exc_info=True)
        if reply.listen:
            reply.hints = self.hints_for(agent.id)
        self._record(agent, agent.phone, call_sid, "outbound", " ".join(reply.say),
                     reply.plan_id)
        return reply

    def hints_for(self, agent_id: int) -> str:
        """Hints for this agent: their lead names, most recently contacted or updated first."""
        try:
            with self.db.session() as session:
                recent = func.coalesce(Lead.last_contacted, Lead.updated_at)
                names = session.scalars(
                    select(Lead.name)
                    .where(Lead.agent_id == agent_id)
                    .order_by(recent.desc(), Lead.updated_at.desc(), Lead.id.desc())
                    .limit(MAX_HINTS)
                ).all()
        except SQLAlchemyError:
            log.warning("could not read lead names for hints", exc_info=True)
            names = []
        return build_hints(names)

    def _record(self, agent: User | None, phone: str | None, call_sid: str, direction: str,
                body: str, plan_id: str | None = None) -> None:
        """Store one turn in `messages`, under its call (`call_sid`; see the module doc)."""
        try:
            with self.db.session() as session:
                session.add(Message(
                    call_sid=call_sid or None,
                    direction=direction,
                    channel="voice",
                    agent_id=agent.id if agent else None,
                    phone=(agent.phone if agent else (phone or "")[:20]) or None,
                    body=body.replace("\x00", "\ufffd")[:4000],
                    status="received" if direction == "inbound" else "spoken",
                    plan_id=plan_id,
                ))
                session.commit()
        except SQLAlchemyError:
            log.warning("could not record a voice turn", exc_info=True)

    def _low_confidence(self, confidence: str) -> bool:
        """Twilio's Confidence is 0.0–1.0; absent (some speech models send none) counts as sure."""
        try:
            value = float(confidence)
        except (TypeError, ValueError):
            return False
        return value < self.min_confidence
