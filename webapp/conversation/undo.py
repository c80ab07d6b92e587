"""Offering to revert the agent's last executed plan (kind `undo`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ExecutedPlan
from webapp.execution.plans import undo_clauses


def last_undoable_plan(session: Session, agent_id: int) -> ExecutedPlan | None:
    """The agent's newest executed plan that is not itself an undo and was not undone."""
    return session.scalar(
        select(ExecutedPlan)
        .where(
            ExecutedPlan.agent_id == agent_id,
            ExecutedPlan.state == "executed",
            ExecutedPlan.undoes_plan_id.is_(None),
            ExecutedPlan.undone_by_plan_id.is_(None),
        )
        .order_by(ExecutedPlan.executed_at.desc(), ExecutedPlan.id.desc())
        .limit(1)
    )


def describe_undo(plan: ExecutedPlan) -> str:
    """What reverting `plan` would do, newest effect first."""
    return "; ".join(undo_clauses(reversed((plan.result or {}).get("effects", [])), done=False))
