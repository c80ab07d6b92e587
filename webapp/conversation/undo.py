"""Offering to revert the agent's last executed plan (kind `undo`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ExecutedPlan


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
    """What reverting `plan` would do, one clause per effect."""
    parts = []
    for effect in reversed((plan.result or {}).get("effects", [])):
        kind = effect["type"]
        if kind == "update_status" and effect.get("history_id"):
            parts.append(f"set {effect['lead']} back to '{effect['old_status']}'")
        elif kind == "log_interaction":
            parts.append(f"remove the {effect['interaction_type']} logged with {effect['lead']}")
        elif kind == "schedule_follow_up":
            parts.append(f"cancel the follow-up '{effect['title']}'")
        elif kind == "create_lead":
            parts.append(f"remove the new lead {effect['lead']}")
    return "; ".join(parts)
