"""The recovery sweep: what a dead worker or a broker outage left behind, queued again.

The database holds every promise (confirmed plans, queued texts); the broker holds only copies.
So beat runs this every SWEEP_INTERVAL_SECONDS: confirmed plans not executed after a grace
period are re-queued (a plan's claim makes an extra task harmless); stale queued texts too; a
text whose send was cut off is looked up at the provider and re-sent only if it never arrived.

What is *not* re-queued, and why:

* nothing that is merely waiting: while more than SWEEP_MAX_QUEUE_DEPTH tasks wait in the
  broker's queue (sustained overload), the plans and texts the sweep would re-queue are most
  likely in that queue already; another copy each would only lengthen it.

A plan is given up (marked failed, the agent told nothing changed) only after MAX_PLAN_ATTEMPTS
runs a worker actually started (`executed_plans.attempts`, counted before each claim), never
for how often it was re-queued (`requeues`): a plan that waited in a long queue is not failed.
Nor while its last run may still be going (it started less than `ATTEMPT_TIME_LIMIT` ago): that
run may yet succeed. (Re-queueing such a plan is harmless, its claim makes a copy a no-op, and
it is what rescues a plan whose worker was killed mid-run.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from db.models import ExecutedPlan
from db.session import Database
from webapp.execution.plans import mark_failed
from webapp.outbound.messages import SentLookup, requeue_stale_messages

log = logging.getLogger(__name__)

# Longer than Celery's hard task_time_limit (120 s, workers/flask_celery.py): a run that started
# longer ago than this has ended, one way or the other.
ATTEMPT_TIME_LIMIT = timedelta(seconds=150)


def sweep(db: Database, grace: timedelta, max_attempts: int, *,
          run_plan: Callable[[str], bool], send_message: Callable[[int], bool],
          now: datetime | None = None, queue_depth: Callable[[], int | None] | None = None,
          max_queue_depth: int | None = None, find_sent: SentLookup | None = None
          ) -> dict[str, int]:
    """Re-queue what is overdue through `run_plan` / `send_message` (each returns whether the
    broker took it); returns what was done, for the task's log.

    `queue_depth` reads how many tasks wait in the broker (None: unknown); above
    `max_queue_depth` nothing is re-queued this time. `find_sent` looks a cut-off send up at
    the provider (see `requeue_stale_messages`)."""
    now = now or datetime.now(UTC)
    depth = queue_depth() if queue_depth is not None else None
    busy = depth is not None and max_queue_depth is not None and depth > max_queue_depth
    if busy:
        log.info("broker queue is long: nothing re-queued this time",
                 extra={"queue_depth": depth})
    requeued = failed = 0
    with db.session() as session:
        stale = session.scalars(
            select(ExecutedPlan).where(
                ExecutedPlan.state == "confirmed", ExecutedPlan.confirmed_at < now - grace
            ).limit(200)
        ).all()
        stale = [(row.plan_id, row.attempts, row.confirmed_at, row.requeues, row.started_at)
                 for row in stale]
    for plan_id, attempts, confirmed_at, requeues, started_at in stale:
        if attempts >= max_attempts:
            if started_at is not None and started_at >= now - ATTEMPT_TIME_LIMIT:
                continue  # its last run may still be going, and succeed
            outcome = mark_failed(db, plan_id, "it could not be completed in time", now)
            if outcome.message_id is not None:
                send_message(outcome.message_id)
            failed += outcome.state == "failed"  # not a plan a late task just executed
            continue
        # Re-queue k is due k grace periods after the confirmation: a slow queue is not flooded.
        if busy or confirmed_at >= now - grace * (requeues + 1):
            continue
        with db.session() as session:
            session.execute(
                update(ExecutedPlan)
                .where(ExecutedPlan.plan_id == plan_id, ExecutedPlan.state == "confirmed")
                .values(requeues=ExecutedPlan.requeues + 1)
            )
            session.commit()
        if run_plan(plan_id):
            requeued += 1
    messages = requeue_stale_messages(db, grace, requeue=not busy, find_sent=find_sent)
    for message_id in messages:
        send_message(message_id)
    return {"plans_requeued": requeued, "plans_failed": failed,
            "messages_requeued": len(messages), "skipped_busy_queue": int(busy)}
