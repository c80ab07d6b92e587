"""Delivering the outbox: one event to one endpoint, signed, at least once, in order per lead.

The life of a `webhook_deliveries` row (`state`):

    pending ──claim──▶ delivering ──2xx──▶ delivered
       ▲                   │
       └── retry later ────┤ (any other answer, a timeout, no connection; Retry-After honoured)
                           ├──410 Gone──▶ failed, and the endpoint is disabled
                           └──retry_until passed, or a blocked address──▶ failed
    failed ──`flask webhooks resend`──▶ pending

* `deliver_batch` claims its rows with one guarded UPDATE (`pending` → `delivering`) and commits
  before calling any receiver, as outbound texts do; then POSTs each, and writes all outcomes
  in one transaction. The claim also requires that no earlier event of the same lead for the
  same endpoint is still pending or being delivered, so one lead's events arrive in the order
  they happened; once one is done with, the next is handed back to be queued.
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
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from sqlalchemy import and_, bindparam, exists, func, select, tuple_, update
from sqlalchemy.orm import aliased
from standardwebhooks.webhooks import Webhook

from db.models import WebhookDelivery, WebhookEndpoint
from db.session import Database
from webapp.integrations.addresses import BlockedAddress, check_url, guarded_http
from webapp.integrations.outbox import RETRY_FOR

log = logging.getLogger(__name__)

PENDING, DELIVERING, DELIVERED, FAILED = "pending", "delivering", "delivered", "failed"
RELEASED = "released"  # claimed but not tried: back to pending, not counted as an attempt
RETRY_CAP = timedelta(hours=4)
SWEEP_BATCH = 1000
# A task delivers up to BATCH events (one claim, one write of the outcomes); it stops sending
# after BATCH_DEADLINE seconds, far inside the task's time limit, and hands the rest back.
BATCH = 25
BATCH_DEADLINE = 30.0


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
    return deliver_batch(db, [delivery_id], policy, http, now)[delivery_id]


@dataclass
class _Job:
    id: int
    message_id: str
    body: str
    attempts: int  # including this one
    retry_until: datetime
    endpoint_id: int
    lead_id: int | None
    url: str
    secret: str
    endpoint_active: bool
    # the outcome
    state: str = DELIVERING
    status: int | None = None
    error: str | None = None
    next_at: datetime | None = None


def deliver_batch(db: Database, delivery_ids: list[int], policy: DeliveryPolicy,
                  http: requests.Session | None = None, now: datetime | None = None
                  ) -> dict[int, DeliveryResult]:
    """Deliver several outbox rows: one claim for all of them, one POST each, one write of
    the outcomes. Rows not due, not pending, or behind an earlier event of their lead are left
    as they are. A batch that runs past BATCH_DEADLINE, or meets an endpoint that does not
    answer, hands its remaining rows of that endpoint back unsent (not counted as attempts)."""
    now = now or datetime.now(UTC)
    results: dict[int, DeliveryResult] = {}
    with db.session() as session:
        found = {row.WebhookDelivery.id: row for row in session.execute(
            select(WebhookDelivery, WebhookEndpoint.url, WebhookEndpoint.secret,
                   WebhookEndpoint.state)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id.in_(delivery_ids)))}
        candidates = []
        for delivery_id in delivery_ids:
            row = found.get(delivery_id)
            if row is None:
                results[delivery_id] = DeliveryResult("missing")
            elif row.WebhookDelivery.state != PENDING:
                results[delivery_id] = DeliveryResult(row.WebhookDelivery.state)
            elif row.WebhookDelivery.next_attempt_at > now:
                results[delivery_id] = DeliveryResult("not_due")
            else:
                candidates.append(delivery_id)
        claimed: dict[int, int] = {}
        if candidates:
            earlier = aliased(WebhookDelivery)
            claimed = dict(session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(candidates), WebhookDelivery.state == PENDING,
                       WebhookDelivery.next_attempt_at <= now,
                       ~exists().where(earlier.endpoint_id == WebhookDelivery.endpoint_id,
                                       earlier.lead_id == WebhookDelivery.lead_id,
                                       earlier.id < WebhookDelivery.id,
                                       earlier.state.in_((PENDING, DELIVERING))))
                .values(state=DELIVERING, claimed_at=now, updated_at=now,
                        attempts=WebhookDelivery.attempts + 1)
                .returning(WebhookDelivery.id, WebhookDelivery.attempts)
                .execution_options(synchronize_session=False)
            ).all())
        session.commit()  # the claims are durable before anything is sent
    for delivery_id in candidates:
        if delivery_id not in claimed:
            results[delivery_id] = DeliveryResult("blocked")  # an earlier event goes first
    jobs = []
    for delivery_id in sorted(claimed):
        row = found[delivery_id]
        delivery = row.WebhookDelivery
        jobs.append(_Job(delivery_id, delivery.message_id, delivery.payload,
                         claimed[delivery_id], delivery.retry_until, delivery.endpoint_id,
                         delivery.lead_id, row.url, row.secret, row.state == "active"))
    _send_all(jobs, policy, http or guarded_http(policy.allow_private), now)
    results.update(_record(db, jobs, now))
    return results


def _send_all(jobs: list[_Job], policy: DeliveryPolicy, http: requests.Session,
              now: datetime) -> None:
    started = time.monotonic()
    disabled: set[int] = set()
    unreachable: dict[int, datetime] = {}  # endpoint -> when its first failure retries
    for job in jobs:
        if not job.endpoint_active or job.endpoint_id in disabled:
            job.state, job.error = FAILED, "endpoint disabled"
        elif job.endpoint_id in unreachable or time.monotonic() - started > BATCH_DEADLINE:
            job.state, job.error = RELEASED, "not tried: the batch ran out of time"
            job.next_at = unreachable.get(job.endpoint_id, now)
        else:
            _send(job, policy, http, now)
            if job.status == 410:
                disabled.add(job.endpoint_id)
            elif job.state == PENDING and job.status is None:  # no answer at all
                unreachable[job.endpoint_id] = job.next_at or now


def _send(job: _Job, policy: DeliveryPolicy, http: requests.Session, now: datetime) -> None:
    try:
        check_url(job.url, policy.allow_private)
        response = http.post(job.url, data=job.body.encode(),
                             headers=signature_headers(job.secret, job.message_id, job.body, now),
                             timeout=(policy.timeout, policy.timeout), allow_redirects=False,
                             stream=True)
        status, retry_after = response.status_code, response.headers.get("Retry-After")
        response.close()
    except BlockedAddress as exc:
        log.warning("webhook not sent: %s", exc, extra={"delivery_id": job.id})
        job.state, job.error = FAILED, str(exc)
        return
    except requests.RequestException as exc:
        _retry_or_give_up(job, policy, now, type(exc).__name__, None)
        return
    job.status = status
    if 200 <= status < 300:
        job.state = DELIVERED
    elif status == 410:
        job.state, job.error = FAILED, "410 Gone"
    else:
        _retry_or_give_up(job, policy, now, f"HTTP {status}",
                          retry_after_seconds(retry_after, now))


def _retry_or_give_up(job: _Job, policy: DeliveryPolicy, now: datetime, error: str,
                      retry_after: float | None) -> None:
    delay = retry_delay(job.attempts, policy.retry_base)
    if retry_after is not None:
        delay = max(delay, retry_after)
    next_at = now + timedelta(seconds=delay)
    if next_at > job.retry_until:
        log.warning("webhook given up after %d attempts: %s", job.attempts, error,
                    extra={"delivery_id": job.id})
        job.state, job.error = FAILED, f"gave up after {job.attempts} attempts: {error}"
        return
    log.info("webhook will be retried: %s", error, extra={"delivery_id": job.id})
    job.state, job.error, job.next_at = PENDING, error, next_at


_FINISH = (
    update(WebhookDelivery.__table__)
    .where(WebhookDelivery.id == bindparam("b_id"),
           WebhookDelivery.state == DELIVERING,
           WebhookDelivery.claimed_at == bindparam("b_claimed_at"))
    .values(state=bindparam("b_state"), attempts=bindparam("b_attempts"),
            last_status=bindparam("b_status"), last_error=bindparam("b_error"),
            next_attempt_at=bindparam("b_next_at"), enqueued_at=None,
            delivered_at=bindparam("b_delivered_at"), updated_at=bindparam("b_now"))
)


def _record(db: Database, jobs: list[_Job], claimed_at: datetime) -> dict[int, DeliveryResult]:
    """Write every job's outcome in one transaction, each guarded on our own claim (a late
    answer after the sweep handed a row to another worker changes nothing); disable endpoints
    that answered 410; and name, for each line that moved on, the lead's next event."""
    if not jobs:
        return {}
    now = datetime.now(UTC)
    with db.session() as session:
        session.execute(_FINISH, [{
            "b_id": job.id, "b_claimed_at": claimed_at,
            "b_state": PENDING if job.state == RELEASED else job.state,
            "b_attempts": job.attempts - 1 if job.state == RELEASED else job.attempts,
            "b_status": job.status, "b_error": (job.error or None) and job.error[:200],
            "b_next_at": job.next_at or claimed_at,
            "b_delivered_at": now if job.state == DELIVERED else None, "b_now": now,
        } for job in jobs])
        gone = {job.endpoint_id for job in jobs if job.status == 410}
        if gone:
            session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id.in_(gone))
                            .values(state="disabled", updated_at=now,
                                    disabled_reason="the receiver answered 410 Gone"))
            log.warning("webhook endpoints disabled (410 Gone)", extra={"endpoints": sorted(gone)})
        moved_on = {(job.endpoint_id, job.lead_id) for job in jobs
                    if job.state in (DELIVERED, FAILED) and job.lead_id is not None}
        following: dict[tuple[int, int], int] = {}
        if moved_on:
            following = {(endpoint_id, lead_id): next_id for endpoint_id, lead_id, next_id in
                         session.execute(
                             select(WebhookDelivery.endpoint_id, WebhookDelivery.lead_id,
                                    func.min(WebhookDelivery.id))
                             .where(WebhookDelivery.state == PENDING,
                                    tuple_(WebhookDelivery.endpoint_id,
                                           WebhookDelivery.lead_id).in_(list(moved_on)))
                             .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.lead_id))}
            if following:
                session.execute(update(WebhookDelivery)
                                .where(WebhookDelivery.id.in_(list(following.values())))
                                .values(enqueued_at=now))
        session.commit()
    results = {}
    for job in jobs:
        state = PENDING if job.state == RELEASED else job.state
        next_id = following.get((job.endpoint_id, job.lead_id)) if job.state in (
            DELIVERED, FAILED) else None
        results[job.id] = DeliveryResult(state, next_id)
    return results


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
