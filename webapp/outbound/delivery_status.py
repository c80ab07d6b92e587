"""Twilio's message status callbacks, applied so that a row's status only ever moves forward.

Twilio posts `MessageStatus` for each stage of an outbound text, but callbacks come duplicated
and out of order (a `sent` may arrive after `delivered`). Statuses are therefore ranked and a
callback is applied only if it ranks above what the row already says; the check and the write
are one guarded UPDATE, so two callbacks racing each other cannot move a row backwards either.

The ranks cover Twilio's documented statuses and the ones `webapp.outbound.messages` writes:

    unknown < accepted, scheduled, queued < sending, receiving < sent, simulated
            < delivered, undelivered, failed, canceled, partially_delivered, received,
              suppressed < read

`sent` is what the worker writes when Twilio accepted the request (Twilio itself then says
`queued`); later `queued`/`sending` callbacks therefore change nothing. Only terminal states
share a rank, and the first one to arrive stays.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Message, User
from webapp.outbound.sender import OPTED_OUT

log = logging.getLogger(__name__)

STATUS_RANK = {
    "unknown": 0,  # ours: no answer from Twilio; any real news is better
    "accepted": 1,
    "scheduled": 1,
    "queued": 1,
    "sending": 2,
    "receiving": 2,
    "sent": 3,
    "simulated": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "partially_delivered": 4,
    "received": 4,
    "suppressed": 4,
    "withdrawn": 4,
    "read": 5,
}


def record_status(
    session: Session, message_sid: str, status: str, error_code: str | int | None = None
) -> bool:
    """Apply one status callback to the `messages` row with `message_sid`; the caller commits.

    Returns False when no row has that sid (the route may answer 200 anyway: Twilio would only
    retry). A status that does not move the row forward, or that Twilio does not document, is
    ignored. Error 21610 (the recipient texted STOP) marks the agent opted out, so nothing more
    is sent to them until they text START.
    """
    status = (status or "").strip().lower()
    code = str(error_code).strip() if error_code not in (None, "") else None
    rank = STATUS_RANK.get(status)
    if rank is None:
        log.warning("ignoring unknown message status %r", status, extra={"sid": message_sid})
        return _exists(session, message_sid)

    earlier = [name for name, other in STATUS_RANK.items() if other < rank]
    values: dict[str, Any] = {"status": status, "updated_at": datetime.now(UTC)}
    if code is not None:
        values["error_code"] = code[:20]
    moved = session.execute(
        update(Message)
        .where(Message.provider_sid == message_sid, Message.status.in_(earlier))
        .values(**values)
    ).rowcount
    if moved and code == str(OPTED_OUT):
        agent_id = session.scalar(
            select(Message.agent_id).where(Message.provider_sid == message_sid)
        )
        if agent_id is not None:
            session.execute(update(User).where(User.id == agent_id).values(opted_out=True))
            log.info("agent opted out (21610 on a callback)", extra={"agent_id": agent_id})
    return bool(moved) or _exists(session, message_sid)


def _exists(session: Session, message_sid: str) -> bool:
    return (
        session.scalar(select(Message.id).where(Message.provider_sid == message_sid)) is not None
    )
