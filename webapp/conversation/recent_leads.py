"""The leads named in an agent's previous message, so "update his status" can follow it.

A message that adds a lead names one that has no id yet: then the plan that creates it is
remembered instead ("New lead Nina Park ...", YES, "call her tomorrow"), and the next message
reads the new lead's id from that plan once it ran (`Recent.created_by_plan`). Until it has
run, nobody is "her": the message asks which lead rather than guess an older one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from redis import Redis

RECENT_KEY = "fl:recent:{phone}"


@dataclass(frozen=True)
class Recent:
    lead_ids: list[int]
    created_by_plan: str | None = None  # a plan id whose create_lead actions come last
    at: float | None = None  # when they were remembered (epoch seconds): a later reminder text
    # makes its own lead the one "him" means


class RecentLeads:
    def __init__(self, redis: Redis, ttl: int) -> None:
        self.redis = redis
        self.ttl = ttl

    def remember(self, phone: str, lead_ids: list[int], pipe: Any = None,
                 created_by_plan: str | None = None, at: float | None = None) -> None:
        """Store `lead_ids` (if any, or a plan that creates leads), as of `at` (default now);
        with `pipe` (a pipeline of this client), only queue it."""
        if not lead_ids and not created_by_plan:
            return
        value = json.dumps({"ids": lead_ids, "plan": created_by_plan,
                            "at": time.time() if at is None else at})
        (pipe or self.redis).set(RECENT_KEY.format(phone=phone), value, ex=self.ttl)

    def queue_recall(self, pipe: Any, phone: str) -> None:
        """Queue a read of the recent leads on a pipeline; `read` its result."""
        pipe.get(RECENT_KEY.format(phone=phone))

    @staticmethod
    def read(raw: str | bytes | None) -> Recent:
        if not raw:
            return Recent([])
        data = json.loads(raw)
        if isinstance(data, dict):
            return Recent([int(i) for i in data.get("ids") or []], data.get("plan") or None,
                          data.get("at"))
        return Recent([int(i) for i in data])

    @staticmethod
    def decode(raw: str | bytes | None) -> list[int]:
        return RecentLeads.read(raw).lead_ids
