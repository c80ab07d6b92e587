"""Delivering the outbox: one event to one endpoint, signed, at least once, in order per lead.

The life of a `webhook_deliveries` row (`state`):

    pending ──claim──▶ delivering ──2xx──▶ delivered
       ▲                   │
       └── retry later ────┤ (any other answer, a timeout, no connection; Retry-After honoured)
                           ├──410 Gone──▶ failed, and the endpoint is disabled
                           └──retry_until passed, or a blocked address──▶ failed
    failed ──`flask webhooks resend`──▶ pending

* `deliver` claims the row with a guarded UPDATE (`pending` → `delivering`) and commits before
  calling the receiver, as outbound texts do. The claim also requires that no earlier event of
  the same lead for the same endpoint is still pending or being delivered, so one lead's events
  arrive in the order they happened; once delivered, the next one is handed back to be queued.
* Unlike a text, a webhook may arrive twice: a worker killed mid-call leaves the row
  `delivering`, and the sweep puts it back to `pending`. Receivers drop the duplicate by its
  `webhook-id`, which is the row's and never changes (Standard Webhooks).
* Retries back off exponentially with jitter (5 s, 10 s, 20 s ... up to 4 h apart) for about a
  day (`retry_until`), and are due in the database, not in the broker: the sweep queues what is
  due, so a Redis restart loses no retry.
"""

from __future__ import annotations

import email.utils
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased
from standardwebhooks.webhooks import Webhook

from db.models import WebhookDelivery, WebhookEndpoint
from db.session import Database
from webapp.integrations.addresses import BlockedAddress, check_url, guarded_http
from webapp.integrations.outbox import RETRY_FOR

log = logging.getLogger(__name__)

PENDING, DELIVERING, DELIVERED, FAILED = "pending", "delivering", "delivered", "failed"
RETRY_CAP = timedelta(hours=4)
SWEEP_BATCH = 1000


@dataclass(frozen=True)
class DeliveryPolicy:
    """The delivery settings, read once from the app's config."""

    timeout: float = 5.0  # seconds to connect, and to wait for the answer
    retry_base: float = 5.0  # seconds before the first retry; doubled each time
    allow_private: bool = False  # loopback / private receivers (development, tests)
    requeue_after: timedelta = timedelta(seconds=30)  # queued but not run: queue it again

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DeliveryPolicy:
        return cls(
            timeout=float(config["WEBHOOK_TIMEOUT"]),
            retry_base=float(config["WEBHOOK_RETRY_BASE_SECONDS"]),
            allow_private=(config["APP_ENV"] == "development"
                           or bool(config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"])),
            requeue_after=timedelta(seconds=config["RECOVERY_GRACE_SECONDS"]),
        )

    @property
    def stuck_after(self) -> timedelta:
        """A delivery `delivering` for longer than this belongs to a worker that died."""
        return timedelta(seconds=2 * self.timeout) + self.requeue_after


@dataclass(frozen=True)
class DeliveryResult:
    state: str  # delivered | pending (retry later) | failed | blocked | not_due | missing | ...
    next_id: int | None = None  # the same lead's next event for this endpoint, to queue now


def signature_headers(secret: str, message_id: str, body: str, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt, signed with the `standardwebhooks`
    package: `webhook-signature` is "v1,<base64 HMAC-SHA256 of id.timestamp.body>"."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
        "content-type": "application/json",
    }


def retry_delay(attempts: int, base: float) -> float:
    """Seconds before attempt `attempts + 1`: base·2^(attempts-1), capped at 4 h, the upper
    half of it random so endpoints that failed together do not all come back at once."""
    ceiling = min(RETRY_CAP.total_seconds(), base * 2.0 ** max(0, attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from `now`."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def deliver(db: Database, delivery_id: int, policy: DeliveryPolicy,
            http: requests.Session | None = None, now: datetime | None = None) -> DeliveryResult:
    """Deliver one outbox row if it is due and first in its lead's line; otherwise change
    nothing (which is what makes a duplicated or early task harmless)."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        found = session.execute(
            select(WebhookDelivery, WebhookEndpoint.url, WebhookEndpoint.secret,
                   WebhookEndpoint.state)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id == delivery_id)
        ).first()
        if found is None:
            return DeliveryResult("missing")
        row, url, secret, endpoint_state = found
        if row.state != PENDING:
            return DeliveryResult(row.state)
        if row.next_attempt_at > now:
            return DeliveryResult("not_due")
        earlier = aliased(WebhookDelivery)
        claimed = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == PENDING,
                   WebhookDelivery.next_attempt_at <= now,
                   ~exists().where(earlier.endpoint_id == row.endpoint_id,
                                   earlier.lead_id == row.lead_id, earlier.id < delivery_id,
                                   earlier.state.in_((PENDING, DELIVERING))))
            .values(state=DELIVERING, claimed_at=now, updated_at=now,
                    attempts=WebhookDelivery.attempts + 1)
            .returning(WebhookDelivery.attempts)
            .execution_options(synchronize_session=False)
        ).first()
        if claimed is None:
            session.rollback()
            return DeliveryResult("blocked")  # an earlier event of the lead goes first
        job = (row.message_id, row.payload, claimed.attempts, row.retry_until, row.endpoint_id,
               row.lead_id)
        target = (url, secret) if endpoint_state == "active" else None
        session.commit()  # the claim is durable before anything is sent

    message_id, body, attempts, retry_until, endpoint_id, lead_id = job
    if target is None:
        return _finish(db, delivery_id, now, FAILED, error="endpoint disabled",
                       endpoint_id=endpoint_id, lead_id=lead_id)
    url, secret = target
    http = http or guarded_http(policy.allow_private)
    try:
        check_url(url, policy.allow_private)
        response = http.post(url, data=body.encode(),
                             headers=signature_headers(secret, message_id, body, now),
                             timeout=(policy.timeout, policy.timeout), allow_redirects=False,
                             stream=True)
        status, retry_after = response.status_code, response.headers.get("Retry-After")
        response.close()
    except BlockedAddress as exc:
        log.warning("webhook not sent: %s", exc, extra={"delivery_id": delivery_id})
        return _finish(db, delivery_id, now, FAILED, error=str(exc),
                       endpoint_id=endpoint_id, lead_id=lead_id)
    except requests.RequestException as exc:
        return _retry_or_give_up(db, delivery_id, now, attempts, retry_until, policy,
                                 error=f"{type(exc).__name__}", status=None, retry_after=None,
                                 endpoint_id=endpoint_id, lead_id=lead_id)
    if 200 <= status < 300:
        return _finish(db, delivery_id, now, DELIVERED, status=status,
                       endpoint_id=endpoint_id, lead_id=lead_id)
    if status == 410:
        _disable_endpoint(db, endpoint_id, "the receiver answered 410 Gone", now)
        return _finish(db, delivery_id, now, FAILED, status=status, error="410 Gone",
                       endpoint_id=endpoint_id, lead_id=lead_id)
    return _retry_or_give_up(db, delivery_id, now, attempts, retry_until, policy,
                             error=f"HTTP {status}", status=status,
                             retry_after=retry_after_seconds(retry_after, now),
                             endpoint_id=endpoint_id, lead_id=lead_id)


def _retry_or_give_up(db: Database, delivery_id: int, now: datetime, attempts: int,
                      retry_until: datetime, policy: DeliveryPolicy, *, error: str,
                      status: int | None, retry_after: float | None, endpoint_id: int,
                      lead_id: int | None) -> DeliveryResult:
    delay = retry_delay(attempts, policy.retry_base)
    if retry_after is not None:
        delay = max(delay, retry_after)
    next_at = now + timedelta(seconds=delay)
    if next_at > retry_until:
        log.warning("webhook given up after %d attempts: %s", attempts, error,
                    extra={"delivery_id": delivery_id})
        return _finish(db, delivery_id, now, FAILED, status=status,
                       error=f"gave up after {attempts} attempts: {error}",
                       endpoint_id=endpoint_id, lead_id=lead_id)
    log.info("webhook will be retried: %s", error, extra={"delivery_id": delivery_id})
    return _finish(db, delivery_id, now, PENDING, status=status, error=error, next_at=next_at,
                   endpoint_id=endpoint_id, lead_id=lead_id)


def _finish(db: Database, delivery_id: int, claimed_at: datetime, state: str, *,
            endpoint_id: int, lead_id: int | None, status: int | None = None,
            error: str | None = None, next_at: datetime | None = None) -> DeliveryResult:
    """Record how a claimed delivery ended; guarded on our own claim, so a late answer after
    the sweep handed the row to another worker changes nothing."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {"state": state, "updated_at": now, "last_status": status,
                              "last_error": (error or None) and error[:200]}
    if state == DELIVERED:
        values["delivered_at"] = now
    if state == PENDING:
        values.update(next_attempt_at=next_at, enqueued_at=None)
    with db.session() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == DELIVERING,
                   WebhookDelivery.claimed_at == claimed_at)
            .values(**values)
        )
        next_id = None
        if state != PENDING:  # the line moves on: the lead's next event may go now
            next_id = session.scalar(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.endpoint_id == endpoint_id,
                       WebhookDelivery.lead_id == lead_id, WebhookDelivery.id > delivery_id,
                       WebhookDelivery.state == PENDING)
                .order_by(WebhookDelivery.id).limit(1)
            ) if lead_id is not None else None
            if next_id is not None:
                session.execute(update(WebhookDelivery).where(WebhookDelivery.id == next_id)
                                .values(enqueued_at=now))
        session.commit()
    return DeliveryResult(state, next_id)


def _disable_endpoint(db: Database, endpoint_id: int, reason: str, now: datetime) -> None:
    with db.session() as session:
        session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
                        .values(state="disabled", disabled_reason=reason, updated_at=now))
        session.commit()
    log.warning("webhook endpoint disabled: %s", reason, extra={"endpoint_id": endpoint_id})


def sweep(db: Database, policy: DeliveryPolicy, enqueue: Callable[[list[int]], Any],
          now: datetime | None = None) -> dict[str, int]:
    """Beat: queue the deliveries that are due (a retry whose time came, a hand-off the broker
    lost) and free those a dead worker left `delivering`. Only the first waiting event of each
    lead and endpoint is queued; the rest follow it."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        freed = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.state == DELIVERING,
                   WebhookDelivery.claimed_at < now - policy.stuck_after)
            .values(state=PENDING, next_attempt_at=now, enqueued_at=None, updated_at=now,
                    last_error="worker lost mid-delivery")
        ).rowcount
        earlier = aliased(WebhookDelivery)
        due = list(session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now,
                   (WebhookDelivery.enqueued_at.is_(None))
                   | (WebhookDelivery.enqueued_at < now - policy.requeue_after),
                   ~exists().where(and_(earlier.endpoint_id == WebhookDelivery.endpoint_id,
                                        earlier.lead_id == WebhookDelivery.lead_id,
                                        earlier.id < WebhookDelivery.id,
                                        earlier.state.in_((PENDING, DELIVERING)))))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(SWEEP_BATCH)
        ))
        if due:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(due))
                            .values(enqueued_at=now))
        session.commit()
    if freed:
        log.warning("webhook deliveries left mid-way by a worker queued again",
                    extra={"count": freed})
    if due:
        enqueue(due)
    return {"freed": freed, "queued": len(due)}


def resend(db: Database, delivery_ids: Iterable[int] | None, agent_id: int | None = None,
           now: datetime | None = None) -> list[int]:
    """Put failed deliveries back to `pending` (same `webhook-id`, a fresh day of retries);
    None means every failed one (of `agent_id`, when given). Returns the ids to queue."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        query = select(WebhookDelivery.id).where(WebhookDelivery.state == FAILED)
        if delivery_ids is not None:
            query = query.where(WebhookDelivery.id.in_(list(delivery_ids)))
        if agent_id is not None:
            query = query.where(WebhookDelivery.agent_id == agent_id)
        ids = list(session.scalars(query.order_by(WebhookDelivery.id)))
        if ids:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids), WebhookDelivery.state == FAILED)
                .values(state=PENDING, attempts=0, next_attempt_at=now, enqueued_at=now,
                        retry_until=now + RETRY_FOR, last_error=None, updated_at=now)
            )
        session.commit()
    return ids
