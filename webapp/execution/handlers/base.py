"""What every action handler gets and gives: the plan run it works in, and the one interface.

A handler turns one action of a confirmed plan into rows (`apply`, returning an *effect*: plain
JSON recording what changed, which is all undo will have), reverts such an effect (`undo`), and
words both for the agent. Handlers never commit: the plan's one transaction is the caller's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Lead, User

Effect = dict[str, Any]

MAX_EXTERNAL_IDS = 10
EXTERNAL_ID_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")


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


def check_external_ids(value: Any) -> dict[str, str]:
    """An object's `external_ids` as stored: a map of at most 10 lowercase system names (e.g.
    "fub", "hubspot") to ids of at most 200 characters; PlanRejected says what is wrong."""
    if not isinstance(value, dict) or len(value) > MAX_EXTERNAL_IDS:
        raise PlanRejected(f"external_ids must be a map of at most {MAX_EXTERNAL_IDS} ids")
    for key, item in value.items():
        if not isinstance(key, str) or not EXTERNAL_ID_KEY.fullmatch(key):
            raise PlanRejected(f"{key!r} is not a valid external id name")
        if not isinstance(item, str) or not item.strip() or len(item) > 200:
            raise PlanRejected(f"the external id {key!r} must be 1 to 200 characters")
    return {key: item.strip() for key, item in value.items()}


def lead_with_external_id(run: PlanRun, system: str, value: str,
                          other_than: int | None = None) -> Lead | None:
    """The agent's lead that carries external id `system`=`value`, if any."""
    query = select(Lead).where(Lead.agent_id == run.agent.id,
                               Lead.external_ids[system].as_string() == value)
    if other_than is not None:
        query = query.where(Lead.id != other_than)
    return run.session.scalars(query.limit(1)).first()


def require_free_external_ids(run: PlanRun, ids: dict[str, str],
                              lead_id: int | None = None) -> None:
    """No other lead of the agent's may carry the same external id (it names one record)."""
    for system, value in ids.items():
        other = lead_with_external_id(run, system, value, other_than=lead_id)
        if other is not None:
            raise PlanRejected(f"{other.name} already has the {system} id {value!r}")


class ActionHandler:
    """One action type: apply and undo side by side, and what the agent reads about each.

    `undo_offer` / `undo_done` are format strings over the effect's keys ("set {lead} back
    to '{old_status}'"), used when undo is offered and once it ran. `event` / `undo_event` are
    the webhook events an applied / undone effect announces (see `webapp.execution.plans`).
    """

    type: ClassVar[str]
    undo_offer: ClassVar[str]
    undo_done: ClassVar[str]
    event: ClassVar[str | None]  # None: the agent's own settings, announced to no one
    undo_event: ClassVar[str | None] = None

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        raise NotImplementedError

    def undo(self, run: PlanRun, effect: Effect) -> bool | None:
        """Revert `effect`; False when it turned out there was nothing left to revert."""
        raise NotImplementedError

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        raise NotImplementedError

    def reverts(self, effect: Effect) -> bool:
        """Whether undoing `effect` changes anything (a status set to what it was does not)."""
        return True
