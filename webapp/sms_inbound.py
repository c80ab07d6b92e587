"""An inbound text, from a verified webhook (or the local simulator) to the reply to send.

The steps, in order: record the message once (a repeated MessageSid has no second effect and no
reply), find the agent, rate-limit, carrier keywords, reject unreadable input, then the shared
conversation. Every reply is recorded too. Nothing here knows about Flask or TwiML.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from db.models import Message, User
from db.session import Database, relax_durability
from webapp import carrier_keywords as kw
from webapp import metrics
from webapp.conversation.conversation import TRY_AGAIN, Conversation
from webapp.idempotency import IdempotencyTokens
from webapp.phones import normalize_phone
from webapp.rate_limit import RateLimiter

log = logging.getLogger(__name__)

MAX_BODY = 1600  # Twilio's own limit for one inbound message
UNKNOWN_SENDER = "Sorry, this number only works for registered Fieldline agents."
RATE_LIMITED = "You're sending messages too fast. Please wait a minute and try again."
EMPTY = "I didn't get any text. Try: \"Update John Doe's status to qualified\" or HELP."
MEDIA_ONLY = "I can only read text, not pictures or files. Please type it out. Nothing changed."
TOO_LONG = f"That message is too long for me (over {MAX_BODY} characters). Please send it shorter."
UNREADABLE = "Your message had characters I can't read. Please retype it. Nothing changed."
EMOJI_ONLY = "I can't read emoji on their own. Try: \"Called John Doe, went well\" or HELP."

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
                 tokens: IdempotencyTokens) -> None:
        self.db = db
        self.conversation = conversation
        self.limiter = limiter
        self.tokens = tokens

    def receive(self, message: Inbound) -> str | None:
        """The reply text for `message`, or None when nothing must be said (a duplicate)."""
        if not self.tokens.first_time(message.idempotency_token):
            log.info("redelivered webhook ignored", extra={"sid": message.sid})
            return None
        try:
            phone = normalize_phone(message.from_phone, "US")
        except ValueError:
            phone = None
        try:
            agent = self._record_inbound(message, phone)
        except IntegrityError:
            log.info("duplicate inbound message ignored", extra={"sid": message.sid})
            return None
        except SQLAlchemyError:
            log.warning("could not record inbound message", exc_info=True)
            return TRY_AGAIN
        if agent is None:
            return self._reply(None, message, UNKNOWN_SENDER)

        try:
            count = self.limiter.hit(agent.phone)
        except RedisError:
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
                                        defer_dispatch=True)
        reply = self._reply(agent, message, turn.reply, turn.plan_id)
        if turn.dispatch is not None:
            turn.dispatch()  # after the reply row, so "Confirmed" is stored before the result
        return reply

    def _record_inbound(self, message: Inbound, phone: str | None) -> User | None:
        with self.db.session() as session:
            relax_durability(session)
            agent = session.scalar(select(User).where(User.phone == phone)) if phone else None
            session.add(
                Message(
                    provider_sid=message.sid or None,
                    direction="inbound",
                    channel=message.channel,
                    agent_id=agent.id if agent else None,
                    phone=phone or message.from_phone[:20],
                    # PostgreSQL text cannot hold NUL; keep the rest for the record.
                    body=message.body[: MAX_BODY * 2].replace("\x00", "\ufffd"),
                    status="received",
                )
            )
            session.commit()
            metrics.count_message("inbound", message.channel)
            return agent

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
            session.commit()
        agent.opted_out = value

    def _reply(self, agent: User | None, message: Inbound, text: str,
               plan_id: str | None = None) -> str:
        """Record the reply we are about to give in the webhook response."""
        try:
            with self.db.session() as session:
                relax_durability(session)
                session.add(
                    Message(
                        direction="outbound",
                        channel=message.channel,
                        agent_id=agent.id if agent else None,
                        phone=agent.phone if agent else None,
                        body=text,
                        status="replied",
                        plan_id=plan_id,
                    )
                )
                session.commit()
        except SQLAlchemyError:
            log.warning("could not record reply", exc_info=True)
        metrics.count_message("outbound", "reply")
        return text


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
