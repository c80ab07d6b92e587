"""Sending one queued text at most once: claim, call the provider, record what it said.

The body of the `send_message` task (workers/tasks.py), callable without Celery. The row's life
is drawn in `webapp.outbound.messages`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select, update

from db.models import Message, User
from db.session import Database
from webapp.config import ConfigError
from webapp.ops import counters
from webapp.outbound.messages import FAILED, QUEUED, SENDING, SENT, SIMULATED, UNKNOWN
from webapp.outbound.sender import (
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

MAX_SEND_RETRIES = 5
RETRY_DELAY_CAP = 60.0  # seconds


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
    counters.count_send_outcome(status)
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
