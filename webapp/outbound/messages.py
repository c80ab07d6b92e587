"""Outbound SMS: written to the database before it is sent, sent at most once, never lost quietly.

The life of an outbound `messages` row (`status`):

    queued ──claim──▶ sending ──accepted──▶ sent (or simulated) ──callbacks──▶ delivered ...
      ▲                  │
      └── retryable ─────┤──refused──▶ failed (error_code: Twilio's code, or why)
                         ├──no answer─▶ unknown (never re-sent automatically)
                         └──worker died─▶ (sweep) looked up at Twilio: sent, or queued again
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
* A row left in `sending` (the worker died between its claim and the outcome, before or after
  the HTTP call) is looked up by the recovery sweep in Twilio's Messages list: to its number,
  in a window from its claim, with its exact body, under a sid no other row has. Found: it is
  `sent`, with that sid. Absent: it never left, so it is `queued` and sent again.
* Later states (`delivered`, `undelivered`, ...) come from Twilio's status callbacks, through
  `webapp.outbound.delivery_status.record_status`, which only ever moves a row forward.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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

# The provider's sids of messages it accepted to `to` with exactly `body`, created at or after
# `since`, newest first; raises when the provider cannot be asked (see TwilioSender.sent_matching).
SentLookup = Callable[[str, str, datetime], list[str]]
# A row claimed this long before the lookup counts as sent at most this much earlier (clocks).
LOOKUP_MARGIN = timedelta(minutes=2)
# Past this age a send the provider cannot be asked about is given up as `unknown`.
LOOKUP_GIVE_UP = timedelta(hours=1)


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
    db: Database, older_than: timedelta, now: datetime | None = None, *,
    requeue: bool = True, find_sent: SentLookup | None = None,
) -> list[int]:
    """For the recovery sweep: ids of outbound texts to enqueue again.

    Texts `queued` for longer than `older_than` (unless not `requeue`: the queue is long and
    they are waiting in it); the caller enqueues each id again (claiming makes an extra task
    harmless). Their `updated_at` is bumped so the next sweep waits another grace period
    instead of piling up tasks.

    Rows stuck in `sending` that long belong to a worker that died mid-send. With `find_sent`
    they are looked up at the provider (`resolve_stuck_send`): found, they are `sent`; absent,
    `queued` again and among the ids returned. Without it, or when the provider cannot be
    asked for an hour, they become `unknown` and are never re-sent.
    """
    now = now or datetime.now(UTC)
    cutoff = now - older_than
    with db.session() as session:
        ids = [] if not requeue else list(
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
                ).order_by(Message.id).limit(100)
            )
        )
        if stuck and find_sent is None:
            session.execute(
                update(Message)
                .where(Message.id.in_(stuck), Message.status == SENDING)
                .values(status=UNKNOWN, error_code="stuck_sending", updated_at=now)
            )
            log.warning("texts stuck in sending marked unknown", extra={"message_ids": stuck})
        session.commit()
    if find_sent is not None:
        for message_id in stuck:
            if resolve_stuck_send(db, message_id, find_sent, now) == QUEUED:
                ids.append(message_id)
    return ids


def resolve_stuck_send(db: Database, message_id: int, find_sent: SentLookup,
                       now: datetime | None = None) -> str | None:
    """Decide a text left in `sending`: look it up at the provider (its number, a window from
    its claim, its exact body, a sid no other row holds). Returns the row's new status: `sent`
    (found; its sid recorded), `queued` (absent: it never left; the caller enqueues it),
    `unknown` (the provider could not be asked for LOOKUP_GIVE_UP), or None (not decided:
    asked again at the next sweep, or the row moved on meanwhile)."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        row = session.get(Message, message_id)
        if row is None or row.status != SENDING:
            return None
        to, body, claimed_at, created_at = row.phone, row.body, row.updated_at, row.created_at
    try:
        candidates = find_sent(to or "", body, claimed_at - LOOKUP_MARGIN)
    except Exception:  # noqa: BLE001 (the provider's or the network's; decided next time)
        log.warning("could not look up a text stuck in sending", exc_info=True,
                    extra={"message_id": message_id})
        if created_at >= now - LOOKUP_GIVE_UP:
            return None  # left as it is (its claim time is the lookup's window)
        return _settle(db, message_id, now, status=UNKNOWN, error_code="lookup_failed")
    with db.session() as session:
        known = set(session.scalars(
            select(Message.provider_sid).where(Message.provider_sid.in_(candidates))
        )) if candidates else set()
    found = next((sid for sid in candidates if sid not in known), None)
    if found is not None:
        log.info("text stuck in sending was sent: recorded", extra={"message_id": message_id,
                                                                    "sid": found})
        return _settle(db, message_id, now, status=SENT, provider_sid=found, error_code=None)
    log.info("text stuck in sending never reached the provider: sent again",
             extra={"message_id": message_id})
    return _settle(db, message_id, now, status=QUEUED)


def _settle(db: Database, message_id: int, now: datetime, **values: object) -> str | None:
    """Move a row still in `sending` to what was decided; None when it moved on meanwhile."""
    with db.session() as session:
        changed = session.execute(
            update(Message).where(Message.id == message_id, Message.status == SENDING)
            .values(updated_at=now, **values)
        ).rowcount
        session.commit()
    return str(values["status"]) if changed == 1 else None
