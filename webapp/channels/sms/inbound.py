"""An inbound text, from a verified webhook (or the local simulator) to the reply to send.

The steps, in order: record the message once (a repeated MessageSid has no second effect and no
reply), find the agent, rate-limit, carrier keywords, reject unreadable input, then the shared
conversation. Every reply is recorded too. Nothing here knows about Flask or TwiML.

A number that is not an agent's is answered at most once a day (and unknown numbers at most
STRANGER_REPLIES_PER_MINUTE times a minute in all: `StrangerLimiter`); what it wrote is never
stored: only the text of an agent is recorded with its body, and a stranger's text, when it is
answered, leaves a row without its body and the reply.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import String, Text, bindparam, insert, literal, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from db.models import Message, User, utcnow
from db.session import Database, relaxed_commit
from webapp.channels.sms import carrier_keywords as kw
from webapp.channels.sms.idempotency import IdempotencyTokens
from webapp.channels.sms.rate_limit import RateLimiter, StrangerLimiter
from webapp.conversation.conversation import TRY_AGAIN, Conversation
from webapp.execution.reminder_dispatch import resume_parked_reminders
from webapp.ops import counters
from webapp.ops.logs import mask_text
from webapp.phones import normalize_phone

log = logging.getLogger(__name__)

MAX_BODY = 1600  # Twilio's own limit for one inbound message
UNKNOWN_SENDER = "Sorry, this number only works for registered Fieldline agents."
RATE_LIMITED = "You're sending messages too fast. Please wait a minute and try again."
EMPTY = "I didn't get any text. Try: \"Update John Doe's status to qualified\" or HELP."
MEDIA_ONLY = "I can only read text, not pictures or files. Please type it out. Nothing changed."
TOO_LONG = f"That message is too long for me (over {MAX_BODY} characters). Please send it shorter."
UNREADABLE = "Your message had characters I can't read. Please retype it. Nothing changed."
EMOJI_ONLY = "I can't read emoji on their own. Try: \"Called John Doe, went well\" or HELP."

# Pure, and phonenumbers takes longer than a Redis round trip; a few agents send most texts.
# (An invalid number raises, and exceptions are not cached.)
_normalize_phone = functools.lru_cache(maxsize=1024)(normalize_phone)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass
class Inbound:
    sid: str
    from_phone: str
    body: str
    num_media: int = 0
    channel: str = "sms"
    idempotency_token: str | None = None


class SmsInbound:
    def __init__(self, db: Database, conversation: Conversation, limiter: RateLimiter,
                 tokens: IdempotencyTokens, default_region: str,
                 strangers: StrangerLimiter | None = None) -> None:
        self.db = db
        self.default_region = default_region  # DEFAULT_COUNTRY: a sender's national number
        self.conversation = conversation
        self.limiter = limiter
        self.tokens = tokens
        self.strangers = strangers or StrangerLimiter(limiter.redis, 10)

    def receive(self, message: Inbound) -> str | None:
        """The reply text for `message`, or None when nothing must be said (a duplicate)."""
        try:
            phone = _normalize_phone(message.from_phone, self.default_region)
        except ValueError:
            phone = None
        # One Redis round trip: the idempotency token, then (first time only) the rate count,
        # and the conversation's first reads. It is made before the agent is known: an unknown
        # number's count and context are never used (and it has none).
        count: int | None = None
        context: list[Any] | None = None
        if phone is None:
            first_time = self.tokens.first_time(message.idempotency_token)
        else:
            try:
                pipe = self.limiter.redis.pipeline(transaction=False)
                self.limiter.queue_hit_unless_seen(
                    pipe, phone, self.tokens.key(message.idempotency_token), self.tokens.ttl)
                self.conversation.queue_context(pipe, phone)
                raw_count, *context = pipe.execute()
                count = self.limiter.decode_hit(raw_count)
                first_time = count is not None
            except RedisError:
                first_time = True  # as IdempotencyTokens: Redis down only skips this check
        if not first_time:
            log.info("redelivered webhook ignored", extra={"sid": message.sid})
            return None
        try:
            agent = self._record_inbound(message, phone)
        except IntegrityError:
            log.info("duplicate inbound message ignored", extra={"sid": message.sid})
            return None
        except SQLAlchemyError:
            log.warning("could not record inbound message", exc_info=True)
            return TRY_AGAIN
        if agent is None:
            return self._stranger(message, phone)

        if count is None:  # Redis failed above: no rate count, so no processing
            return self._reply(agent, message, TRY_AGAIN)
        if not self.limiter.allowed(count):
            return self._reply(agent, message, RATE_LIMITED) if self.limiter.first_refusal(
                count) else None

        keyword_reply = self._carrier_keyword(agent, message.body)
        if keyword_reply is not None:
            return self._reply(agent, message, keyword_reply)
        if agent.opted_out:
            return self._reply(agent, message, kw.STILL_OPTED_OUT_REPLY)

        problem = input_problem(message.body, message.num_media)
        if problem is not None:
            return self._reply(agent, message, problem)

        turn = self.conversation.handle(agent, message.body, message.channel,
                                        defer_dispatch=True, context=context)
        # A sign-in link goes out in the reply but is kept in `messages` masked: the link is a
        # credential for 15 minutes, and only its hash is stored anywhere.
        stored = turn.reply.replace(turn.link, mask_text(turn.link)) if turn.link else None
        reply = self._reply(agent, message, turn.reply, turn.plan_id, stored)
        if turn.dispatch is not None:
            turn.dispatch()  # after the reply row, so "Confirmed" is stored before the result
        return reply

    def _record_inbound(self, message: Inbound, phone: str | None) -> User | None:
        """Insert the inbound row of an agent's text (committed: a redelivered MessageSid then
        fails the unique constraint) and return the agent; for a number that is not an agent's
        insert nothing and return None.

        On PostgreSQL this is one statement and one round trip, run on the driver directly
        (`Database.write_log_row`): the insert, as a CTE, selects from the agent's row (so a
        stranger's text inserts nothing), and the outer SELECT returns the agent's row."""
        params = {
            "sid": message.sid or None,
            "channel": message.channel,
            "agent_phone": phone,
            "phone": phone or message.from_phone[:20],
            # PostgreSQL text cannot hold NUL; keep the rest for the record.
            "body": message.body[: MAX_BODY * 2].replace("\x00", "\ufffd"),
            "now": utcnow(),
        }
        if self.db.is_postgresql:
            found = self.db.write_log_row(_RECORD_INBOUND_PG, params)
        else:
            with self.db.log_writer() as connection:
                row = connection.execute(_AGENT_BY_PHONE, params).one_or_none()
                if row is not None:
                    connection.execute(_INSERT_INBOUND, params)
            found = dict(row._mapping) if row is not None else None
        counters.count_message("inbound", message.channel)
        # A detached User, as the session-based version returned (nothing lazy-loads from it).
        return User(**found) if found is not None else None

    def _stranger(self, message: Inbound, phone: str | None) -> str | None:
        """A text from a number that is not an agent's: the polite refusal at most once a day
        per number (and within the overall budget), else nothing; never its body stored."""
        sender = phone or message.from_phone
        if not self.strangers.may_reply(sender):
            log.info("text from an unregistered number left unanswered",
                     extra={"from_phone": sender, "sid": message.sid})
            return None
        try:
            with self.db.log_writer() as connection:
                connection.execute(_INSERT_STRANGER, {
                    "sid": message.sid or None, "channel": message.channel,
                    "phone": sender[:20], "now": utcnow()})
        except IntegrityError:
            return None  # this very message was answered already
        except SQLAlchemyError:
            log.warning("could not record a stranger's text", exc_info=True)
        return self._reply(None, message, UNKNOWN_SENDER)

    def _carrier_keyword(self, agent: User, body: str) -> str | None:
        word = kw.keyword_of(body)
        if word is None:
            return None
        if word in kw.OPT_OUT:
            self._set_opted_out(agent, True)
            return kw.OPTED_OUT_REPLY
        if word in kw.OPT_IN or (word in kw.OPT_IN_WHEN_OPTED_OUT and agent.opted_out):
            self._set_opted_out(agent, False)
            return kw.OPTED_IN_REPLY
        if word in kw.HELP:
            return None if not agent.opted_out else kw.STILL_OPTED_OUT_REPLY
        return None

    def _set_opted_out(self, agent: User, value: bool) -> None:
        with self.db.session() as session:
            row = session.get(User, agent.id)
            row.opted_out = value
            if not value:  # START: follow-ups parked while opted out are due again
                resume_parked_reminders(session, agent.id)
            session.commit()
        agent.opted_out = value

    def _reply(self, agent: User | None, message: Inbound, text: str,
               plan_id: str | None = None, stored: str | None = None) -> str:
        """Record the reply we are about to give in the webhook response (as `stored`, when
        the record must differ from what is sent)."""
        params = {
            "channel": message.channel,
            "agent_id": agent.id if agent else None,
            "phone": agent.phone if agent else None,
            "body": stored if stored is not None else text,
            "plan_id": plan_id,
            "now": utcnow(),
        }
        try:
            if self.db.is_postgresql:
                self.db.write_log_row(_INSERT_REPLY_PG, params)
            else:
                with self.db.log_writer() as connection:
                    connection.execute(_INSERT_REPLY, params)
        except SQLAlchemyError:
            log.warning("could not record reply", exc_info=True)
        counters.count_message("outbound", "reply")
        return text


# The statements for the two `messages` rows of every turn, built once: a statement built per
# request costs more Python time than its round trip (construction and cache-key traversal).
_NOW = bindparam("now", type_=Message.__table__.c.created_at.type)
_AGENT_BY_PHONE = select(*User.__table__.c).where(User.phone == bindparam("agent_phone"))
_INSERT_INBOUND = insert(Message).values(
    provider_sid=bindparam("sid"),
    direction="inbound",
    channel=bindparam("channel"),
    agent_id=select(User.id).where(User.phone == bindparam("agent_phone")).scalar_subquery(),
    phone=bindparam("phone"),
    body=bindparam("body"),
    status="received",
    created_at=_NOW,
    updated_at=_NOW,
)
# PostgreSQL: the same row, inserted only when the sender is an agent (INSERT ... SELECT from
# the agent's row), so a stranger's text is never stored.
_INBOUND_COLUMNS = ["provider_sid", "direction", "channel", "agent_id", "phone", "body",
                    "status", "created_at", "updated_at"]
_INSERT_AGENTS_INBOUND = insert(Message).from_select(_INBOUND_COLUMNS, select(
    bindparam("sid", type_=String), literal("inbound", String), bindparam("channel", type_=String),
    User.id, bindparam("phone", type_=String), bindparam("body", type_=Text),
    literal("received", String), _NOW, _NOW,
).where(User.phone == bindparam("agent_phone", type_=String)))
_RECORDED = _INSERT_AGENTS_INBOUND.returning(Message.agent_id, relaxed_commit()).cte("recorded")
# A stranger's text, when it is answered: who and when, never what.
_INSERT_STRANGER = insert(Message).values(
    provider_sid=bindparam("sid"), direction="inbound", channel=bindparam("channel"),
    agent_id=None, phone=bindparam("phone"), body="", status="received",
    created_at=_NOW, updated_at=_NOW,
)
_RECORD_INBOUND_PG = select(*User.__table__.c).join(_RECORDED, User.id == _RECORDED.c.agent_id)
_INSERT_REPLY = insert(Message).values(
    direction="outbound",
    channel=bindparam("channel"),
    agent_id=bindparam("agent_id"),
    phone=bindparam("phone"),
    body=bindparam("body"),
    status="replied",
    plan_id=bindparam("plan_id"),
    created_at=_NOW,
    updated_at=_NOW,
)
_INSERT_REPLY_PG = _INSERT_REPLY.returning(relaxed_commit())


def input_problem(body: str, num_media: int = 0) -> str | None:
    """Why `body` cannot be read as a command, or None when it can."""
    if _CONTROL.search(body):
        return UNREADABLE
    text = body.strip()
    if not text:
        return MEDIA_ONLY if num_media else EMPTY
    if len(body) > MAX_BODY:
        return TOO_LONG
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        return EMOJI_ONLY if any(unicodedata.category(ch) == "So" for ch in text) else None
    return None
