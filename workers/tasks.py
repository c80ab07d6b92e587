"""Celery tasks. Each takes ids, not objects: the database holds the truth.

`run_plan` runs one confirmed plan exactly once; `recover_confirmed_plans` (beat) re-queues what
a dead worker or a broker outage left behind, and gives up plainly after a bounded number of
attempts.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from celery import shared_task
from flask import current_app
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from db.models import ExecutedPlan
from webapp import get_db
from webapp.health import record_beat_heartbeat
from workers.outbound import enqueue_send, requeue_stale_messages
from workers.plan_execution import mark_failed, run_confirmed_plan
from workers.reminders import ReminderRules, dispatch_daily_agendas, dispatch_due_reminders

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="workers.tasks.run_plan",
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    retry_backoff_max=30,
    max_retries=3,
)
def run_plan(self, plan_id: str) -> str:  # type: ignore[no-untyped-def]
    """Run a confirmed plan (a no-op if it already ran) and queue the result text."""
    outcome = run_confirmed_plan(get_db(), plan_id)
    if outcome.message_id is not None:
        enqueue_send(outcome.message_id)
    return outcome.state


def enqueue_run_plan(plan_id: str) -> bool:
    """Queue `run_plan` without blocking on a dead broker; False when it could not be queued
    (the confirmed row in the database is still there for the recovery sweep)."""
    try:
        run_plan.apply_async(args=[plan_id], retry=False)
    except (BrokerError, OSError, TimeoutError):
        log.warning("broker unavailable; plan left for the recovery sweep",
                    extra={"plan_id": plan_id})
        return False
    return True


@shared_task(name="workers.tasks.recover_confirmed_plans")
def recover_confirmed_plans() -> dict[str, int]:
    """Re-queue confirmed plans not executed after a grace period, and stale outbound texts."""
    config = current_app.config
    grace = timedelta(seconds=config["RECOVERY_GRACE_SECONDS"])
    return sweep(grace, config["MAX_PLAN_ATTEMPTS"])


def sweep(grace: timedelta, max_attempts: int, now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    db = get_db()
    requeued = failed = 0
    with db.session() as session:
        stale = session.scalars(
            select(ExecutedPlan).where(
                ExecutedPlan.state == "confirmed", ExecutedPlan.confirmed_at < now - grace
            ).limit(200)
        ).all()
        # Attempt k is due k grace periods after the confirmation: a slow queue is not flooded.
        stale = [
            (row.plan_id, row.attempts)
            for row in stale
            if row.confirmed_at < now - grace * (row.attempts + 1)
        ]
    for plan_id, attempts in stale:
        if attempts >= max_attempts:
            outcome = mark_failed(db, plan_id, "it could not be completed in time", now)
            if outcome.message_id is not None:
                enqueue_send(outcome.message_id)
            failed += outcome.state == "failed"  # not a plan a late task just executed
            continue
        with db.session() as session:
            session.execute(
                update(ExecutedPlan)
                .where(ExecutedPlan.plan_id == plan_id, ExecutedPlan.state == "confirmed")
                .values(attempts=ExecutedPlan.attempts + 1)
            )
            session.commit()
        if enqueue_run_plan(plan_id):
            requeued += 1
    messages = requeue_stale_messages(db, grace)
    for message_id in messages:
        enqueue_send(message_id)
    return {"plans_requeued": requeued, "plans_failed": failed, "messages_requeued": len(messages)}


@shared_task(name="workers.tasks.dispatch_reminders")
def dispatch_reminders() -> int:
    """Beat, every REMINDER_INTERVAL_SECONDS: claim due follow-ups, then queue their texts."""
    record_beat_heartbeat()  # read by `flask doctor`: beat scheduled this and a worker ran it
    rules = ReminderRules.from_config(current_app.config)
    message_ids = dispatch_due_reminders(
        get_db(), datetime.now(UTC), rules,
        on_batch=lambda batch: [enqueue_send(message_id) for message_id in batch],
    )
    return len(message_ids)


@shared_task(name="workers.tasks.dispatch_agendas")
def dispatch_agendas() -> int:
    """Beat, every minute: the morning agenda for agents whose local agenda hour has come."""
    rules = ReminderRules.from_config(current_app.config)
    message_ids = dispatch_daily_agendas(get_db(), datetime.now(UTC), rules)
    for message_id in message_ids:
        enqueue_send(message_id)
    return len(message_ids)
