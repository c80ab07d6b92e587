"""Celery tasks: thin wrappers that take ids, call into `webapp`, and queue what follows.

Each task takes ids, not objects: the database holds the truth, and every task is idempotent by
its id (a plan's claim, a text's claim), so a redelivered or duplicated task changes nothing.
The `enqueue_*` functions publish without retrying and never raise for a broker outage: the
database row they point at is the fallback, found again by the recovery sweep.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import OperationalError

from webapp.api.idempotency import prune
from webapp.database import get_db
from webapp.execution import lead_alert_dispatch
from webapp.execution.plans import run_confirmed_plan
from webapp.execution.recovery import sweep
from webapp.execution.reminder_dispatch import (
    AGENDA_BATCH,
    ReminderRules,
    claim_daily_agendas,
    dispatch_due_reminders,
    unwritten_agenda_claims,
    write_daily_agendas,
)
from webapp.integrations import delivery as webhook_delivery
from webapp.ops.counters import queue_depth
from webapp.ops.health import record_beat_heartbeat
from webapp.outbound.delivery import MAX_SEND_RETRIES, current_sender, deliver, retry_delay
from webapp.outbound.sender import RetryableSendError
from workers import task_names

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name=task_names.RUN_PLAN,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    retry_backoff_max=30,
    max_retries=3,
)
def run_plan(self, plan_id: str) -> str:
    """Run a confirmed plan (a no-op if it already ran) and queue the result text."""
    outcome = run_confirmed_plan(get_db(), plan_id)
    if outcome.message_id is not None:
        enqueue_send(outcome.message_id)
    return outcome.state


@shared_task(bind=True, name=task_names.SEND_MESSAGE, max_retries=MAX_SEND_RETRIES)
def send_message(self, message_id: int) -> str:
    """Send one queued text; retry only what is certainly unsent (`RetryableSendError`)."""
    config = current_app.config
    final = self.request.retries >= self.max_retries
    try:
        return deliver(
            get_db(), message_id, current_sender(config), config=config, final_attempt=final
        )
    except RetryableSendError as exc:
        raise self.retry(exc=exc, countdown=retry_delay(self.request.retries)) from exc


def enqueue_run_plan(plan_id: str) -> bool:
    """Queue `run_plan`; False when it could not be queued (the confirmed row in the database
    is still there for the recovery sweep)."""
    return _publish(run_plan, plan_id, plan_id=plan_id)


def enqueue_send(message_id: int) -> bool:
    """Queue `send_message` once; False if the broker is down (the row stays `queued` and
    `requeue_stale_messages` finds it). Not retrying keeps a web request or a plan task from
    stalling, or storming the broker, during an outage."""
    return _publish(send_message, message_id, message_id=message_id)


def _publish(task, *arguments: object, **log_fields: object) -> bool:
    try:
        task.apply_async(args=list(arguments), retry=False)
    except Exception:  # kombu/redis/socket errors alike: the database row is the fallback
        log.warning("broker unavailable; left for the recovery sweep", exc_info=True,
                    extra=log_fields)
        return False
    return True


@shared_task(name=task_names.RECOVER_CONFIRMED_PLANS)
def recover_confirmed_plans() -> dict[str, int]:
    """Beat: re-queue confirmed plans not executed after a grace period, and stale texts."""
    config = current_app.config
    return sweep_now(timedelta(seconds=config["RECOVERY_GRACE_SECONDS"]),
                     config["MAX_PLAN_ATTEMPTS"])


def sweep_now(grace: timedelta, max_attempts: int, now: datetime | None = None
              ) -> dict[str, int]:
    """One recovery sweep in this process (inside an app context), queueing through the real
    broker: beat's task, and tests that play beat. It reads the broker's queue depth (nothing
    is re-queued while it is over SWEEP_MAX_QUEUE_DEPTH) and looks cut-off sends up with the
    configured sender (Twilio's Messages list)."""
    config = current_app.config
    broker = config.get("CELERY_BROKER_URL") or config["REDIS_URL"]
    return sweep(get_db(), grace, max_attempts, run_plan=enqueue_run_plan,
                 send_message=enqueue_send, now=now,
                 queue_depth=lambda: queue_depth(broker),
                 max_queue_depth=config["SWEEP_MAX_QUEUE_DEPTH"],
                 find_sent=current_sender(config).sent_matching)


@shared_task(name=task_names.DISPATCH_REMINDERS)
def dispatch_reminders() -> int:
    """Beat, every REMINDER_INTERVAL_SECONDS: claim due follow-ups, then queue their texts."""
    record_beat_heartbeat()  # read by `flask doctor`: beat scheduled this and a worker ran it
    rules = ReminderRules.from_config(current_app.config)
    message_ids = dispatch_due_reminders(
        get_db(), datetime.now(UTC), rules,
        on_batch=lambda batch: [enqueue_send(message_id) for message_id in batch],
    )
    return len(message_ids)


@shared_task(name=task_names.DISPATCH_AGENDAS)
def dispatch_agendas() -> dict[str, int]:
    """Beat, every minute: claim the morning agendas whose local agenda hour has come and
    queue their writing; claims a dead worker left unwritten are queued again."""
    return hand_out_agendas(datetime.now(UTC))


def hand_out_agendas(now: datetime) -> dict[str, int]:
    """One agenda beat in this process (inside an app context): beat's task, and tests and the
    benchmark that play beat. The claims are committed before any id is queued; the unwritten
    ones are not queued again while more than SWEEP_MAX_QUEUE_DEPTH tasks wait in the broker
    (they are most likely among them)."""
    config = current_app.config
    db = get_db()
    claim_ids = claim_daily_agendas(db, now, ReminderRules.from_config(config))
    depth = queue_depth(config.get("CELERY_BROKER_URL") or config["REDIS_URL"])
    busy = depth is not None and depth > config["SWEEP_MAX_QUEUE_DEPTH"]
    again = [] if busy else unwritten_agenda_claims(db, now)
    queued = enqueue_agenda_writes(claim_ids + again)
    return {"claimed": len(claim_ids), "handed_out_again": len(again), "queued": queued}


@shared_task(name=task_names.WRITE_AGENDAS, autoretry_for=(OperationalError,),
             retry_backoff=2, retry_backoff_max=30, max_retries=3)
def write_agendas(claim_ids: list[int]) -> int:
    """Write the morning agendas of these claims (each once, whoever else holds a copy of the
    task) and queue each text as soon as it is committed; how many texts."""
    rules = ReminderRules.from_config(current_app.config)
    return len(write_daily_agendas(get_db(), list(claim_ids), datetime.now(UTC), rules,
                                   on_text=enqueue_send))


def enqueue_agenda_writes(claim_ids: list[int]) -> int:
    """Queue `write_agendas` in batches of AGENDA_BATCH claims; how many claims the broker
    took (beat hands the rest out again once they are UNWRITTEN_AFTER old)."""
    batches = (claim_ids[i:i + AGENDA_BATCH] for i in range(0, len(claim_ids), AGENDA_BATCH))
    return sum(len(batch) for batch in batches
               if _publish(write_agendas, batch, claim_ids=batch))


@shared_task(name=task_names.DISPATCH_LEAD_ALERTS)
def dispatch_lead_alerts(agent_ids: list[int] | None = None,
                         complete_batches: list[str] | None = None) -> int:
    """Text new-lead alerts: right after a lead's commit, for its agent (`agent_ids`, and the
    batches that commit completed); from beat every minute, for everyone, which also sends
    what quiet hours held and what a lost hand-off left."""
    rules = ReminderRules.from_config(current_app.config)
    message_ids = lead_alert_dispatch.dispatch_lead_alerts(
        get_db(), datetime.now(UTC), rules, agent_ids=agent_ids,
        complete_batches=complete_batches or ())
    for message_id in message_ids:
        enqueue_send(message_id)
    return len(message_ids)


def enqueue_lead_alerts(agent_ids: list[int], complete_batches: list[str]) -> bool:
    """Queue `dispatch_lead_alerts` for these agents (`webapp.crm.lead_alerts` calls it once a
    new lead committed); False when the broker is down (beat dispatches within a minute)."""
    return _publish(dispatch_lead_alerts, agent_ids, complete_batches, agent_ids=agent_ids)


@shared_task(name=task_names.DELIVER_WEBHOOKS, autoretry_for=(OperationalError,),
             retry_backoff=2, retry_backoff_max=30, max_retries=3)
def deliver_webhooks(delivery_ids: list[int]) -> dict[str, int]:
    """POST outbox events to their endpoints (those due and first in their lead's line); then
    queue the next event of each lead that moved on. Retries are due in the database (the
    sweep queues them), not held in the broker."""
    results = webhook_delivery.deliver_batch(
        get_db(), list(delivery_ids),
        webhook_delivery.DeliveryPolicy.from_config(current_app.config))
    following = [result.next_id for result in results.values() if result.next_id is not None]
    if following:
        enqueue_webhook_deliveries(following)
    states: dict[str, int] = {}
    for result in results.values():
        states[result.state] = states.get(result.state, 0) + 1
    return states


def enqueue_webhook_deliveries(delivery_ids: list[int]) -> int:
    """Queue `deliver_webhooks` in batches of BATCH ids; how many ids the broker took (the
    rest wait for the sweep). Called after the outbox rows are committed
    (`webapp.integrations.outbox`), by the sweep, and after a delivery for what follows it."""
    size = webhook_delivery.BATCH
    return sum(len(batch) for batch in (delivery_ids[i:i + size]
                                        for i in range(0, len(delivery_ids), size))
               if _publish(deliver_webhooks, batch, delivery_ids=batch))


@shared_task(name=task_names.SWEEP_WEBHOOKS)
def sweep_webhooks() -> dict[str, int]:
    """Beat, every WEBHOOK_SWEEP_INTERVAL_SECONDS: queue due webhook retries, and deliveries a
    dead worker or a lost broker message left behind."""
    return webhook_delivery.sweep(
        get_db(), webhook_delivery.DeliveryPolicy.from_config(current_app.config),
        enqueue_webhook_deliveries)


@shared_task(name=task_names.PRUNE_IDEMPOTENCY_KEYS)
def prune_idempotency_keys() -> int:
    """Beat, hourly: forget API answers kept for Idempotency-Key replays after 24 hours."""
    return prune(get_db())
