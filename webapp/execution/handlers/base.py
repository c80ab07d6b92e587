"""What every action handler gets and gives: the plan run it works in, and the one interface.

A handler turns one action of a confirmed plan into rows (`apply`, returning an *effect*: plain
JSON recording what changed, which is all undo will have), reverts such an effect (`undo`), and
words both for the agent. Handlers never commit: the plan's one transaction is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from db.models import Lead, User

Effect = dict[str, Any]


class PlanRejected(Exception):
    """The plan cannot be carried out as confirmed (a lead is gone, a value is invalid)."""


@dataclass
class PlanRun:
    """One confirmed plan being executed (or undone) inside one transaction."""

    session: Session
    agent: User
    plan_id: str
    channel: str
    now: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.agent.timezone)

    def own_lead(self, lead_id: int) -> Lead:
        """The agent's lead `lead_id`; any other agent's lead is as missing as a deleted one."""
        lead = self.session.get(Lead, lead_id)
        if lead is None or lead.agent_id != self.agent.id:
            raise PlanRejected("that lead no longer exists")
        return lead


class ActionHandler:
    """One action type: apply and undo side by side, and what the agent reads about each.

    `undo_offer` / `undo_done` are format strings over the effect's keys ("set {lead} back
    to '{old_status}'"), used when undo is offered and once it ran.
    """

    type: ClassVar[str]
    undo_offer: ClassVar[str]
    undo_done: ClassVar[str]

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        raise NotImplementedError

    def undo(self, run: PlanRun, effect: Effect) -> None:
        raise NotImplementedError

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        raise NotImplementedError

    def reverts(self, effect: Effect) -> bool:
        """Whether undoing `effect` changes anything (a status set to what it was does not)."""
        return True
