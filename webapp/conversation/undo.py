"""Offering to revert the agent's last executed plan (kind `undo`)."""

from __future__ import annotations

from collections.abc import Iterable

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


# What undoing each kind of effect says: (as an offer, once done).
_WORDING = {
    "update_status": ("set {lead} back to '{old_status}'", "{lead} is back to '{old_status}'"),
    "log_interaction": ("remove the {interaction_type} logged with {lead}",
                        "removed the {interaction_type} with {lead}"),
    "schedule_follow_up": ("cancel the follow-up '{title}'", "cancelled the follow-up '{title}'"),
    "create_lead": ("remove the new lead {lead}", "removed the new lead {lead}"),
}


def undo_clauses(effects: Iterable[dict], done: bool) -> list[str]:
    """One clause per effect an undo reverts, in the order given; a status that did not change
    (no history row) has nothing to revert."""
    return [
        _WORDING[effect["type"]][done].format(**effect)
        for effect in effects
        if effect["type"] in _WORDING
        and (effect["type"] != "update_status" or effect.get("history_id"))
    ]


def describe_undo(plan: ExecutedPlan) -> str:
    """What reverting `plan` would do, newest effect first."""
    return "; ".join(undo_clauses(reversed((plan.result or {}).get("effects", [])), done=False))
