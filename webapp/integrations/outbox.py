"""The webhook outbox: an event is written in the same transaction as the change it announces.

`emit` is the one way an event enters it, whatever the channel (a confirmed text, a call, the
web, the API, an import): it adds one `webhook_deliveries` row per active endpoint of the agent
that wants that event type, with the exact signed-to-be body. If the change rolls back, so do
its events; if it commits, they are there even when the broker or a worker is not. Nothing is
written for an agent without endpoints.

Once the transaction commits, the ids are handed to `deliver_soon` (the app wires it to the
Celery task queue), so a delivery starts within a moment; if that hand-off is lost, the sweep
(`webapp.integrations.delivery.sweep`) finds the rows again.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.after_commit import hand_off_after_commit
from db.models import WebhookDelivery, WebhookEndpoint
from db.vocabulary import WEBHOOK_EVENT_TYPES
from webapp.integrations.representations import iso

log = logging.getLogger(__name__)

_PENDING = "fl_webhook_deliveries"  # session.info: ids written, handed off after the commit
_ENDPOINTS = "fl_webhook_endpoints"  # session.info: per agent, the active endpoints (a cache)

# How long an event is retried before it is marked failed (about a day, as the big CRMs do).
RETRY_FOR = timedelta(hours=24)

_deliver_soon: Callable[[list[int]], Any] | None = None


def deliver_with(callback: Callable[[list[int]], Any] | None) -> None:
    """Set what is called with the ids of deliveries once their transaction committed (the app
    factory passes the task queue's; it must never raise)."""
    global _deliver_soon
    _deliver_soon = callback


def emit(session: Session, agent_id: int, event_type: str, data: dict[str, Any], *,
         lead_id: int | None, happened_at: datetime | None = None,
         retry_for: timedelta = RETRY_FOR) -> list[int]:
    """Write `event_type` with `data` (an object as the API shows it) for each endpoint of the
    agent's that wants it, in `session`'s transaction; returns the new deliveries' ids.

    `happened_at` is the event's `timestamp` (default now); `lead_id` keeps one lead's events
    in order at each endpoint."""
    if event_type not in WEBHOOK_EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    endpoints = _active_endpoints(session, agent_id)
    wanted = [endpoint_id for endpoint_id, events in endpoints
              if not events or event_type in events]
    if not wanted:
        return []
    now = datetime.now(UTC)
    body = json.dumps({"type": event_type, "timestamp": iso(happened_at or now), "data": data},
                      separators=(",", ":"), ensure_ascii=False)
    rows = [WebhookDelivery(message_id=f"msg_{uuid.uuid4().hex}", agent_id=agent_id,
                            endpoint_id=endpoint_id, event_type=event_type, lead_id=lead_id,
                            payload=body, state="pending", attempts=0, next_attempt_at=now,
                            retry_until=now + retry_for, enqueued_at=now, created_at=now,
                            updated_at=now)
             for endpoint_id in wanted]
    session.add_all(rows)
    session.flush()
    ids = [row.id for row in rows]
    _hand_off_after_commit(session, ids)
    return ids


def wanted(session: Session, agent_id: int, event_type: str) -> bool:
    """Whether any endpoint of the agent's would receive `event_type` (so a caller can skip
    building the objects of events nobody wants)."""
    return any(not events or event_type in events
               for _, events in _active_endpoints(session, agent_id))


def forget_endpoints(session: Session) -> None:
    """Drop the per-transaction endpoint cache (after endpoints were added or removed)."""
    session.info.pop(_ENDPOINTS, None)


def _active_endpoints(session: Session, agent_id: int) -> list[tuple[int, list[str]]]:
    cache = session.info.setdefault(_ENDPOINTS, {})
    if agent_id not in cache:
        cache[agent_id] = [
            (endpoint_id, list(events or []))
            for endpoint_id, events in session.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.events).where(
                    WebhookEndpoint.agent_id == agent_id, WebhookEndpoint.state == "active")
            )
        ]
    return cache[agent_id]


def _hand_off_after_commit(session: Session, ids: list[int]) -> None:
    hand_off_after_commit(session, _PENDING, ids, _committed, forget=(_ENDPOINTS,))


def _committed(ids: list[int]) -> None:
    if _deliver_soon is not None:
        try:
            _deliver_soon(ids)
        except Exception:  # the rows are committed; the sweep delivers them anyway
            log.warning("could not hand webhook deliveries to the queue", exc_info=True)
