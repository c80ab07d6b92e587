"""Celery tasks. Each takes ids, not objects: the database holds the truth."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="workers.tasks.recover_confirmed_plans")
def recover_confirmed_plans() -> int:
    """Re-queue confirmed plans a dead worker left behind (filled in with plan execution)."""
    return 0
