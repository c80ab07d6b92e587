"""Outbound SMS: written to the database before it is sent, sent at most once, never lost quietly.

The life of an outbound `messages` row (`status`):

    queued ──claim──▶ sending ──accepted──▶ sent (or simulated) ──callbacks──▶ delivered ...
      ▲                  │
      └── retryable ─────┤──refused──▶ failed (error_code: Twilio's code, or why)
                         └──no answer─▶ unknown (never re-sent automatically)
    suppressed: queued for an agent who opted out (STOP); never sent.
    withdrawn: a reminder whose follow-up changed before it went out; never sent.

* `queue_text` adds the row inside the caller's transaction; the caller commits, then hands
  the id to the task queue (`workers.tasks.enqueue_send`). If the broker is down the row simply
  stays `queued` and the recovery sweep (`requeue_stale_messages`) finds it: the database holds
  the promise, the broker only a copy.
* `webapp.outbound.delivery.deliver` claims the row with a guarded UPDATE (`queued` →
  `sending`) and commits the claim *before* calling Twilio, so a redelivered or duplicated task
  finds nothing to claim. A send whose outcome is unknown (timeout after the request went out)
  ends `unknown`, because Twilio may have accepted it and a second text is worse than a
  missing one an operator can see.
* Later states (`delivered`, `undelivered`, ...) come from Twilio's status callbacks, through
  `webapp.outbound.delivery_status.record_status`, which only ever moves a row forward.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Message, User
from db.session import Database

log = logging.getLogger(__name__)

# Statuses this module writes (webapp.outbound.delivery_status orders them against Twilio's).
QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
SIMULATED = "simulated"
FAILED = "failed"
UNKNOWN = "unknown"
SUPPRESSED = "suppressed"
# A reminder text that lost its reason before it was sent (its follow-up was moved, cancelled
# or done meanwhile); never sent.
WITHDRAWN = "withdrawn"


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
