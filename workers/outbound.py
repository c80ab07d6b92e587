"""Outbound SMS: written to the database before it is sent, sent at most once, never lost quietly.

The life of an outbound `messages` row (`status`):

    queued ──claim──▶ sending ──accepted──▶ sent (or simulated) ──callbacks──▶ delivered ...
      ▲                  │
      └── retryable ─────┤──refused──▶ failed (error_code: Twilio's code, or why)
                         └──no answer─▶ unknown (never re-sent automatically)
    suppressed: queued for an agent who opted out (STOP); never sent.

* `queue_text` adds the row inside the caller's transaction; the caller commits, then calls
  `enqueue_send`. If the broker is down the row simply stays `queued` and the recovery sweep
  (`requeue_stale_messages`) finds it: the database holds the promise, the broker only a copy.
* `deliver` claims the row with a guarded UPDATE (`queued` → `sending`) and commits the claim
  *before* calling Twilio, so a redelivered or duplicated task finds nothing to claim. A send
  whose outcome is unknown (timeout after the request went out) ends `unknown`, because Twilio
  may have accepted it and a second text is worse than a missing one an operator can see.
* Later states (`delivered`, `undelivered`, ...) come from Twilio's status callbacks, through
  `webapp.delivery_status.record_status`, which only ever moves a row forward.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from celery import shared_task
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Message, User
from db.session import Database
from webapp import get_db, metrics
from webapp.config import ConfigError
from workers.sms_sender import (
    PermanentSendError,
    RecipientOptedOut,
    RecordingSender,
    RetryableSendError,
    Sender,
    SendError,
    SendOutcomeUnknown,
    sender_from_config,
)

log = logging.getLogger(__name__)

# Statuses this module writes (webapp.delivery_status orders them against Twilio's).
QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
SIMULATED = "simulated"
FAILED = "failed"
UNKNOWN = "unknown"
SUPPRESSED = "suppressed"

MAX_SEND_RETRIES = 5
RETRY_DELAY_CAP = 60.0  # seconds


def queue_text(
    session: Session,
    *,
    agent_id: int | None,
    phone: str,
    body: str,
    plan_id: str | None = None,
    channel: str = "sms",
    allow_opted_out: bool = False,
) -> Message:
    """Add an outbound text to `session` (flushed, so it has an id); the caller commits.

    Only after the commit may the caller `enqueue_send(message.id)`: written before sent, so a
    crash in between leaves a `queued` row for the sweep rather than a text nobody knows of.
    A text for an agent who opted out is created `suppressed` and never sent — unless
    `allow_opted_out` (the confirmation Twilio's rules allow in answer to START or HELP).
    Deciding this here keeps the choice in the row itself, with no extra column.
    """
    if not phone.startswith("+"):
        raise ValueError(f"outbound phone must be E.164, got {phone!r}")
    if not body.strip():
        raise ValueError("outbound text must not be empty")
    status = QUEUED
    if agent_id is not None and not allow_opted_out:
        opted_out = session.scalar(select(User.opted_out).where(User.id == agent_id))
        if opted_out:
            status = SUPPRESSED
            log.info("text to opted-out agent suppressed", extra={"agent_id": agent_id})
    message = Message(
        direction="outbound",
        channel=channel,
        agent_id=agent_id,
        phone=phone,
        body=body,
        status=status,
        plan_id=plan_id,
    )
    session.add(message)
    session.flush()
    return message


def deliver(
    db: Database,
    message_id: int,
    sender: Sender,
    *,
    config: Mapping[str, Any],
    final_attempt: bool = False,
) -> str:
    """Send the queued text `message_id` at most once; return the row's status afterwards.

    The body of the `send_message` task, callable without Celery. A row that is not `queued`
    (already sent, being sent, failed, unknown, suppressed) is left alone, which is what makes
    a redelivered task harmless. `RetryableSendError` puts the row back to `queued` and is
    re-raised for the task to retry — unless `final_attempt`, when the row ends `failed`.
    """
    if isinstance(sender, RecordingSender) and config.get("APP_ENV") == "production":
        # Marking real agents' texts "simulated" would lose them without a trace.
        raise ConfigError("the recording sender cannot be used in production")
    now = datetime.now(UTC)
    with db.session() as session:
        claimed = session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.direction == "outbound",
                Message.status == QUEUED,
            )
            .values(status=SENDING, updated_at=now)
        ).rowcount
        if claimed != 1:
            current = session.scalar(select(Message.status).where(Message.id == message_id))
            log.info("nothing to send", extra={"message_id": message_id, "status": current})
            return current or "missing"
        row = session.scalars(select(Message).where(Message.id == message_id)).one()
        to, body, agent_id = row.phone, row.body, row.agent_id
        session.commit()  # the claim is durable before anything leaves the building

    try:
        result = sender.send(to or "", body)
    except RetryableSendError as exc:
        if final_attempt:
            log.error(
                "text not sent after the last retry: %s",
                exc.reason,
                extra={"message_id": message_id, "error_code": exc.code},
            )
            return _finish(db, message_id, FAILED, error_code=_retry_code(exc))
        log.warning(
            "send failed, will retry: %s", exc.reason, extra={"message_id": message_id}
        )
        _finish(db, message_id, QUEUED)
        raise
    except RecipientOptedOut as exc:
        log.info("recipient has opted out (21610)", extra={"message_id": message_id})
        return _finish(db, message_id, FAILED, error_code=exc.code, opt_out_agent=agent_id)
    except PermanentSendError as exc:
        log.error(
            "text refused by the provider: %s",
            exc.reason,
            extra={"message_id": message_id, "error_code": exc.code},
        )
        return _finish(db, message_id, FAILED, error_code=exc.code)
    except SendOutcomeUnknown as exc:
        log.warning(
            "send outcome unknown, not retrying (Twilio may have accepted it): %s",
            exc.reason,
            extra={"message_id": message_id},
        )
        return _finish(db, message_id, UNKNOWN, error_code=exc.code)
    except Exception:
        # A bug in or around the sender: we cannot tell whether anything went out.
        log.exception("unexpected error while sending", extra={"message_id": message_id})
        _finish(db, message_id, UNKNOWN, error_code="internal")
        raise

    status = SIMULATED if result.status == SIMULATED else SENT
    return _finish(db, message_id, status, provider_sid=result.sid)


def _retry_code(exc: SendError) -> str:
    return f"retries:{exc.code}"[:20] if exc.code else "retries_exhausted"


def _finish(
    db: Database,
    message_id: int,
    status: str,
    *,
    error_code: str | None = None,
    provider_sid: str | None = None,
    opt_out_agent: int | None = None,
) -> str:
    """Record the outcome of a claimed send.

    Guarded on `sending` — or `unknown`, which the sweep sets on a send that ran longer than
    the grace period: when the answer does come, what Twilio said is the truth.
    """
    values: dict[str, Any] = {"status": status, "updated_at": datetime.now(UTC)}
    if error_code is not None:
        values["error_code"] = error_code[:20]
    if provider_sid is not None:
        values["provider_sid"] = provider_sid
    with db.session() as session:
        changed = session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status.in_((SENDING, UNKNOWN)))
            .values(**values)
        ).rowcount
        if opt_out_agent is not None:
            session.execute(update(User).where(User.id == opt_out_agent).values(opted_out=True))
        session.commit()
    metrics.count_send_outcome(status)
    if changed != 1:
        log.warning(
            "outcome not recorded: the row changed meanwhile",
            extra={"message_id": message_id, "status": status},
        )
    return status


def retry_delay(retries: int) -> float:
    """Exponential backoff with jitter, capped: 1-2 s, 2-4 s, ... at most 60 s.

    Half the delay is random so texts that failed together (a Twilio outage) do not all retry
    in the same second.
    """
    ceiling = min(RETRY_DELAY_CAP, 2.0 ** (retries + 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


@lru_cache(maxsize=8)
def _cached_sender(settings: tuple[tuple[str, Any], ...]) -> Sender:
    # One twilio client (and its pooled HTTPS connections) per worker process and settings.
    return sender_from_config(dict(settings))


SENDER_SETTINGS = (
    "APP_ENV",
    "SMS_SENDER",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_PHONE_NUMBER",
    "TWILIO_API_BASE_URL",
    "TWILIO_TIMEOUT",
    "PUBLIC_BASE_URL",
)


def current_sender(config: Mapping[str, Any]) -> Sender:
    """`sender_from_config(config)`, reused while the settings it depends on are the same."""
    return _cached_sender(tuple((name, config.get(name)) for name in SENDER_SETTINGS))


@shared_task(bind=True, name="workers.outbound.send_message", max_retries=MAX_SEND_RETRIES)
def send_message(self, message_id: int) -> str:  # type: ignore[no-untyped-def]
    """Send one queued text; retry only what is certainly unsent (`RetryableSendError`)."""
    config = current_app.config
    final = self.request.retries >= self.max_retries
    try:
        return deliver(
            get_db(), message_id, current_sender(config), config=config, final_attempt=final
        )
    except RetryableSendError as exc:
        raise self.retry(exc=exc, countdown=retry_delay(self.request.retries)) from exc


def enqueue_send(message_id: int) -> bool:
    """Queue `send_message` once, without retrying the publish; False if the broker is down.

    Called after the row is committed. A failed publish loses nothing: the row stays `queued`
    and `requeue_stale_messages` finds it. Not retrying keeps a web request or a plan task from
    stalling (or storming the broker) during an outage.
    """
    try:
        send_message.apply_async(args=[message_id], retry=False)
    except Exception:  # kombu/redis/socket errors alike: the row is the fallback
        log.warning(
            "broker unavailable; text left queued for the sweep",
            exc_info=True,
            extra={"message_id": message_id},
        )
        return False
    return True


def requeue_stale_messages(
    db: Database, older_than: timedelta, now: datetime | None = None
) -> list[int]:
    """For the recovery sweep: ids of outbound texts `queued` for longer than `older_than`.

    The caller enqueues each id again (claiming makes an extra task harmless). Their
    `updated_at` is bumped so the next sweep waits another grace period instead of piling up
    tasks. Rows stuck in `sending` that long belong to a worker that died mid-send: whether
    Twilio got the text cannot be known, so they become `unknown` and are never re-sent.
    """
    now = now or datetime.now(UTC)
    cutoff = now - older_than
    with db.session() as session:
        ids = list(
            session.scalars(
                select(Message.id)
                .where(
                    Message.direction == "outbound",
                    Message.status == QUEUED,
                    Message.updated_at < cutoff,
                )
                .order_by(Message.id)
                .limit(500)
            )
        )
        if ids:
            session.execute(
                update(Message)
                .where(Message.id.in_(ids), Message.status == QUEUED)
                .values(updated_at=now)
            )
        stuck = list(
            session.scalars(
                select(Message.id).where(
                    Message.direction == "outbound",
                    Message.status == SENDING,
                    Message.updated_at < cutoff,
                )
            )
        )
        if stuck:
            session.execute(
                update(Message)
                .where(Message.id.in_(stuck), Message.status == SENDING)
                .values(status=UNKNOWN, error_code="stuck_sending", updated_at=now)
            )
            log.warning("texts stuck in sending marked unknown", extra={"message_ids": stuck})
        session.commit()
    return ids
