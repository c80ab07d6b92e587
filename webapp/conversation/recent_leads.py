"""The leads named in an agent's previous message, so "update his status" can follow it."""

from __future__ import annotations

import json
from typing import Any

from redis import Redis

RECENT_KEY = "fl:recent:{phone}"


class RecentLeads:
    def __init__(self, redis: Redis, ttl: int) -> None:
        self.redis = redis
        self.ttl = ttl

    def remember(self, phone: str, lead_ids: list[int], pipe: Any = None) -> None:
        """Store `lead_ids` (if any); with `pipe` (a pipeline of this client), only queue it."""
        if lead_ids:
            (pipe or self.redis).set(RECENT_KEY.format(phone=phone), json.dumps(lead_ids),
                                     ex=self.ttl)

    def queue_recall(self, pipe: Any, phone: str) -> None:
        """Queue a read of the recent leads on a pipeline; `decode` its result."""
        pipe.get(RECENT_KEY.format(phone=phone))

    @staticmethod
    def decode(raw: str | bytes | None) -> list[int]:
        return [int(i) for i in json.loads(raw)] if raw else []
