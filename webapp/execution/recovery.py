"""The recovery sweep: what a dead worker or a broker outage left behind, queued again.

The database holds every promise (confirmed plans, queued texts); the broker holds only copies.
So beat runs this every SWEEP_INTERVAL_SECONDS: confirmed plans not executed after a grace
period are re-queued (a plan's claim makes an extra task harmless), up to a bounded number of
attempts, after which the plan is marked failed and the agent told; stale queued texts too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from db.models import ExecutedPlan
from db.session import Database
from webapp.execution.plans import mark_failed
from webapp.outbound.messages import requeue_stale_messages


def sweep(db: Database, grace: timedelta, max_attempts: int, *,
          run_plan: Callable[[str], bool], send_message: Callable[[int], bool],
          now: datetime | None = None) -> dict[str, int]:
    """Re-queue what is overdue through `run_plan` / `send_message` (each returns whether the
    broker took it); returns what was done, for the task's log."""
    now = now or datetime.now(UTC)
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
                send_message(outcome.message_id)
            failed += outcome.state == "failed"  # not a plan a late task just executed
            continue
        with db.session() as session:
            session.execute(
                update(ExecutedPlan)
                .where(ExecutedPlan.plan_id == plan_id, ExecutedPlan.state == "confirmed")
                .values(attempts=ExecutedPlan.attempts + 1)
            )
            session.commit()
        if run_plan(plan_id):
            requeued += 1
    messages = requeue_stale_messages(db, grace)
    for message_id in messages:
        send_message(message_id)
    return {"plans_requeued": requeued, "plans_failed": failed, "messages_requeued": len(messages)}
