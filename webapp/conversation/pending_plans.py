"""What waits in Redis for the agent's next message: a plan for YES, or a clarify question.

Redis may lose all of this at any moment (it keeps nothing on disk); that only costs the agent a
retyped message, never a confirmed action: confirmed plans live in the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

PENDING_KEY = "fl:pending:{phone}"
CLARIFY_KEY = "fl:clarify:{phone}"
# What the last plan shown was about, kept well past the plan itself, so that a YES that comes
# too late is told what expired ("Your change for Tom Reyes expired ...") rather than nothing.
OFFERED_KEY = "fl:offered:{phone}"
OFFERED_TTL = 24 * 3600


@dataclass
class PendingPlan:
    """A plan shown to the agent and not yet confirmed."""

    plan_id: str
    actions: list[dict[str, Any]]
    summary: str
    channel: str
    undo_of: str | None = None  # set when the plan reverts an executed plan
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, default=str)

    @classmethod
    def from_json(cls, raw: str | bytes) -> PendingPlan:
        return cls(**json.loads(raw))


class PendingPlans:
    """Pending plans and clarify questions, keyed by the agent's phone."""

    def __init__(self, redis: Redis, plan_ttl: int, clarify_ttl: int | None = None) -> None:
        self.redis = redis
        self.plan_ttl = plan_ttl
        self.clarify_ttl = clarify_ttl or plan_ttl

    def put(self, phone: str, plan: PendingPlan) -> bool:
        """Store `plan`, replacing any older one; True when an older plan was replaced."""
        pipe = self.redis.pipeline(transaction=False)
        self.queue_put(pipe, phone, plan)
        return pipe.execute()[-1] is not None

    def queue_put(self, pipe: Any, phone: str, plan: PendingPlan) -> None:
        """Queue `put` on a pipeline of this client; its last result is truthy when it
        replaced a plan."""
        pipe.set(OFFERED_KEY.format(phone=phone), json.dumps(
            {"plan_id": plan.plan_id, "leads": _leads_of(plan), "undo": bool(plan.undo_of),
             "ttl": self.plan_ttl}), ex=max(OFFERED_TTL, self.plan_ttl))
        pipe.set(PENDING_KEY.format(phone=phone), plan.to_json(), ex=self.plan_ttl, get=True)

    def take(self, phone: str) -> PendingPlan | None:
        """Remove and return the pending plan atomically: of many concurrent YES, one wins."""
        raw = self.redis.getdel(PENDING_KEY.format(phone=phone))
        if not raw:
            return None
        self.redis.delete(OFFERED_KEY.format(phone=phone))  # answered: it did not expire
        return PendingPlan.from_json(raw)

    def take_expired(self, phone: str) -> dict[str, Any] | None:
        """What the last plan shown was about, if it expired unanswered (once)."""
        raw = self.redis.getdel(OFFERED_KEY.format(phone=phone))
        return json.loads(raw) if raw else None

    def peek(self, phone: str) -> PendingPlan | None:
        raw = self.redis.get(PENDING_KEY.format(phone=phone))
        return PendingPlan.from_json(raw) if raw else None

    def put_back(self, phone: str, plan: PendingPlan) -> None:
        """Return a taken plan whose confirmation failed to save, unless a newer one exists."""
        if self.redis.set(PENDING_KEY.format(phone=phone), plan.to_json(), ex=self.plan_ttl,
                          nx=True):
            self.redis.set(OFFERED_KEY.format(phone=phone), json.dumps(
                {"plan_id": plan.plan_id, "leads": _leads_of(plan), "undo": bool(plan.undo_of),
                 "ttl": self.plan_ttl}), ex=max(OFFERED_TTL, self.plan_ttl))

    def put_clarify(self, phone: str, question: dict[str, Any]) -> None:
        self.redis.set(CLARIFY_KEY.format(phone=phone), json.dumps(question), ex=self.clarify_ttl)

    def take_clarify(self, phone: str) -> dict[str, Any] | None:
        raw = self.redis.getdel(CLARIFY_KEY.format(phone=phone))
        return json.loads(raw) if raw else None

    def queue_peek_clarify(self, pipe: Any, phone: str) -> None:
        """Queue a look (not a take) at the clarify question; truthy when one is waiting."""
        pipe.exists(CLARIFY_KEY.format(phone=phone))

    def drop_clarify(self, phone: str) -> None:
        self.redis.delete(CLARIFY_KEY.format(phone=phone))


def _leads_of(plan: PendingPlan) -> list[str]:
    """The names a plan is about, in order: its actions' leads and new leads' names."""
    names: list[str] = []
    for action in plan.actions:
        name = action.get("lead") or action.get("name")
        if name and name not in names:
            names.append(name)
    return names
